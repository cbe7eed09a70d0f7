/* signals: handlers with SA_SIGINFO, masks, an alternate stack, a SIGSEGV
 * handler that escapes with siglongjmp, and finally death by SIGUSR2.
 * Expected: the lines below, then exit status 128+SIGUSR2 (140 on x86 hosts).
 *
 * Rebuild: hppa-linux-gnu-gcc -O2 -static -s -o signals signals.c
 */
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t hits;
static sigjmp_buf escape;
static char altstack[16384];

static void on_usr1(int sig, siginfo_t *si, void *uc) {
	(void)uc;
	int local;
	int on_alt = (char *)&local >= altstack && (char *)&local < altstack + sizeof altstack;
	hits++;
	printf("usr1: sig %d code %d from self %d alt %d\n", sig, si->si_code, si->si_pid == getpid(), on_alt);
}

static void on_segv(int sig, siginfo_t *si, void *uc) {
	(void)uc;
	printf("segv: sig %d addr %p code %d\n", sig, si->si_addr, si->si_code);
	siglongjmp(escape, 1);
}

int main(void) {
	setvbuf(stdout, NULL, _IONBF, 0);
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_usr1;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGUSR1, &sa, NULL);

	raise(SIGUSR1);
	kill(getpid(), SIGUSR1);

	sigset_t block, pending;
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	sigprocmask(SIG_BLOCK, &block, NULL);
	raise(SIGUSR1);
	sigpending(&pending);
	printf("blocked: hits %d pending %d\n", (int)hits, sigismember(&pending, SIGUSR1));
	sigprocmask(SIG_UNBLOCK, &block, NULL);
	printf("unblocked: hits %d\n", (int)hits);

	stack_t ss = {.ss_sp = altstack, .ss_size = sizeof altstack};
	sigaltstack(&ss, NULL);
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
	sigaction(SIGUSR1, &sa, NULL);
	raise(SIGUSR1);

	sa.sa_sigaction = on_segv;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGSEGV, &sa, NULL);
	if (sigsetjmp(escape, 1) == 0)
		*(volatile int *)16 = 1;
	printf("escaped, hits %d\n", (int)hits);

	signal(SIGUSR2, SIG_DFL);
	raise(SIGUSR2);
	printf("not reached\n");
	return 0;
}

/* illegal: instructions that trap. An undefined instruction word raises
 * SIGILL (ILL_ILLOPC), a privileged one SIGILL, a break instruction
 * SIGTRAP (TRAP_BRKPT); each is caught, and si_addr points at the
 * instruction (the low two bits, which may hold the privilege level, are
 * ignored). si_code of the privileged case is not printed: Linux says
 * ILL_PRVOPC, qemu-hppa 7.2 ILL_ILLOPC. With the argument "uncaught", the
 * undefined word finally kills the process (exit status 132).
 *
 * qemu-hppa dumps the registers to stderr on each of these traps and
 * synod prints its own one-line diagnostic, so the tests compare stdout
 * and the exit status only.
 *
 * Rebuild: ./build.sh
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

extern const char undefined_word[], privileged_word[], break_word[];

static sigjmp_buf back;
static volatile int got_sig, got_code;
static volatile uintptr_t got_addr;

static void handler(int sig, siginfo_t *si, void *ctx) {
	(void)ctx;
	got_sig = sig;
	got_code = si->si_code;
	got_addr = (uintptr_t)si->si_addr;
	siglongjmp(back, 1);
}

static void report(const char *what, const char *insn, int with_code) {
	printf("%-10s signal %d at the instruction %d", what, got_sig, (got_addr & ~(uintptr_t)3) == (uintptr_t)insn);
	if (with_code)
		printf(" si_code %d", got_code);
	printf("\n");
}

int main(int argc, char **argv) {
	setvbuf(stdout, NULL, _IOLBF, 0);
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = handler;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGILL, &sa, NULL);
	sigaction(SIGTRAP, &sa, NULL);

	if (sigsetjmp(back, 1) == 0)
		__asm__ volatile(".globl undefined_word\nundefined_word: .word 0xffffffff");
	report("undefined", undefined_word, 1);
	if (sigsetjmp(back, 1) == 0)
		__asm__ volatile(".globl privileged_word\nprivileged_word: iitlbp %r0,(%sr0,%r0)");
	report("privileged", privileged_word, 0);
	if (sigsetjmp(back, 1) == 0)
		__asm__ volatile(".globl break_word\nbreak_word: break 4,8");
	report("break", break_word, 1);
	printf("ILL_ILLOPC %d TRAP_BRKPT %d\n", ILL_ILLOPC, TRAP_BRKPT);

	if (argc > 1 && strcmp(argv[1], "uncaught") == 0) {
		signal(SIGILL, SIG_DFL);
		printf("executing an undefined instruction uncaught\n");
		__asm__ volatile(".word 0xffffffff");
		printf("survived\n");
	}
	return 0;
}

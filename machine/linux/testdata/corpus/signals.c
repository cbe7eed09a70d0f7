/* signals: signal delivery to handlers. raise and kill to self, sigaction
 * with SA_SIGINFO (si_signo, si_code, si_pid, si_value), blocked signals
 * left pending and delivered on unblock, sigsuspend, SA_RESETHAND and
 * SA_NODEFER, a handler that siglongjmps out, SIGSEGV from a write to
 * NULL caught by a handler (si_addr), a signal sent to another thread with
 * pthread_kill, registers and FP state intact across a handler, a
 * handler running on an alternate stack, and an interval timer.
 *
 * Rebuild: ./build.sh
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "corpus.h"

static volatile sig_atomic_t hits[65];
static volatile int last_code, last_pid_is_self, last_value;
static volatile void *last_addr;

static void count(int sig) { hits[sig]++; }

static void info_handler(int sig, siginfo_t *si, void *ctx) {
	(void)ctx;
	hits[sig]++;
	last_code = si->si_code;
	last_pid_is_self = si->si_pid == getpid();
	last_value = si->si_value.sival_int;
}

static void install(int sig, void (*h)(int), int flags) {
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = h;
	sa.sa_flags = flags;
	sigemptyset(&sa.sa_mask);
	sigaction(sig, &sa, NULL);
}

static void install_info(int sig, void (*h)(int, siginfo_t *, void *), int flags) {
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = h;
	sa.sa_flags = SA_SIGINFO | flags;
	sigemptyset(&sa.sa_mask);
	sigaction(sig, &sa, NULL);
}

static void basics(void) {
	install(SIGUSR1, count, 0);
	raise(SIGUSR1);
	kill(getpid(), SIGUSR1);
	printf("SIGUSR1 via raise and kill: %d hits\n", hits[SIGUSR1]);

	install_info(SIGUSR2, info_handler, 0);
	kill(getpid(), SIGUSR2);
	printf("kill: si_code SI_USER %d, si_pid is self %d\n", last_code == SI_USER, last_pid_is_self);
	raise(SIGUSR2);
	printf("raise: si_code SI_TKILL %d\n", last_code == SI_TKILL);
	union sigval v = {.sival_int = 4242};
	sigqueue(getpid(), SIGUSR2, v);
	printf("sigqueue: si_code SI_QUEUE %d value %d\n", last_code == SI_QUEUE, last_value);

	struct sigaction old;
	sigaction(SIGUSR1, NULL, &old);
	printf("sigaction reads back the handler: %d\n", old.sa_handler == count);
	install(SIGUSR1, SIG_IGN, 0);
	raise(SIGUSR1);
	printf("ignored SIGUSR1: still %d hits\n", hits[SIGUSR1]);
}

static void masking(void) {
	install(SIGUSR1, count, 0);
	hits[SIGUSR1] = 0;
	sigset_t block, old, pending;
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	sigprocmask(SIG_BLOCK, &block, &old);
	raise(SIGUSR1);
	raise(SIGUSR1); /* standard signals do not queue: one delivery */
	sigpending(&pending);
	printf("blocked: %d hits, pending %d\n", hits[SIGUSR1], sigismember(&pending, SIGUSR1));
	sigprocmask(SIG_SETMASK, &old, NULL);
	printf("unblocked: %d hits\n", hits[SIGUSR1]);

	/* Real-time signals queue. */
	install(SIGRTMIN + 1, count, 0);
	install(SIGRTMIN + 2, count, 0);
	sigemptyset(&block);
	sigaddset(&block, SIGRTMIN + 1);
	sigaddset(&block, SIGRTMIN + 2);
	sigprocmask(SIG_BLOCK, &block, &old);
	for (int i = 0; i < 3; i++) {
		raise(SIGRTMIN + 2);
		raise(SIGRTMIN + 1);
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	/* Not printed: the order of arrival. Linux delivers the lowest
	 * number first; qemu-hppa 7.2 stacks all pending handlers at once,
	 * so the highest runs first. */
	printf("realtime queued: %d and %d\n", hits[SIGRTMIN + 1], hits[SIGRTMIN + 2]);

	/* sigsuspend waits with SIGUSR1 unblocked, then restores the mask. */
	sigprocmask(SIG_BLOCK, &block, NULL);
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	sigprocmask(SIG_BLOCK, &block, &old);
	raise(SIGUSR1);
	sigset_t wait_mask;
	sigemptyset(&wait_mask);
	int r = sigsuspend(&wait_mask);
	sigset_t now;
	sigprocmask(SIG_SETMASK, NULL, &now);
	printf("sigsuspend returned %d, hits %d, mask restored %d\n", r, hits[SIGUSR1], sigismember(&now, SIGUSR1));
	sigemptyset(&now);
	sigprocmask(SIG_SETMASK, &now, NULL);
}

/* nesting raises its own signal from inside the handler, three calls in
 * all: they nest only when the signal is not blocked in its handler. */
static volatile int nest_depth, max_nest, nest_calls;
static void nesting(int sig) {
	nest_calls++;
	if (++nest_depth > max_nest)
		max_nest = nest_depth;
	if (nest_calls < 3)
		raise(sig);
	nest_depth--;
}

static void flags(void) {
	hits[SIGUSR2] = 0;
	install(SIGUSR2, count, SA_RESETHAND);
	raise(SIGUSR2);
	struct sigaction now;
	sigaction(SIGUSR2, NULL, &now);
	printf("SA_RESETHAND: %d hit, handler reset to default %d\n", hits[SIGUSR2], now.sa_handler == SIG_DFL);

	install(SIGUSR1, nesting, SA_NODEFER);
	raise(SIGUSR1);
	printf("SA_NODEFER: %d calls nest to depth %d\n", nest_calls, max_nest);
	max_nest = nest_calls = 0;
	install(SIGUSR1, nesting, 0);
	raise(SIGUSR1);
	printf("without SA_NODEFER: %d calls, depth %d\n", nest_calls, max_nest);
}

static sigjmp_buf escape;
static void jump_out(int sig, siginfo_t *si, void *ctx) {
	(void)ctx;
	last_addr = si->si_addr;
	last_code = si->si_code;
	siglongjmp(escape, sig);
}

static void faults(void) {
	install_info(SIGSEGV, jump_out, 0);
	int sig = sigsetjmp(escape, 1);
	if (sig == 0) {
		volatile int *p = NULL;
		*p = 42;
		printf("write to NULL did not fault\n");
	} else {
		/* si_code is SEGV_ACCERR on hppa-linux: page 0 is mapped but not writable. */
		printf("write to NULL: signal %d, si_addr %p, si_code %d\n", sig, (void *)last_addr, last_code);
	}
	sig = sigsetjmp(escape, 1);
	if (sig == 0) {
		volatile int *volatile p = (int *)0x40;
		printf("read near NULL gave %d\n", *p);
	} else {
		printf("read near NULL: signal %d, si_addr %p\n", sig, (void *)last_addr);
	}
	/* The mask was restored by siglongjmp: SIGSEGV is deliverable again. */
	sig = sigsetjmp(escape, 1);
	if (sig == 0) {
		install_info(SIGUSR1, jump_out, 0);
		raise(SIGUSR1);
	}
	printf("second siglongjmp out of a handler: signal %d\n", sig);
	install(SIGSEGV, SIG_DFL, 0);
}

/* A timer handler that clobbers registers, integer and floating point,
 * while a loop keeps its state in them; the loop's results must not
 * change. */
static void clobber(int sig) {
	hits[sig]++;
	volatile double d = sig * 1.5;
	volatile long l = sig * 7;
	for (int i = 0; i < 100; i++)
		d = d * 1.0001 + (double)l, l = l * 3 + 1;
}

static void state_survives(void) {
	install(SIGALRM, clobber, 0);
	struct itimerval it = {{0, 1000}, {0, 1000}};
	setitimer(ITIMER_REAL, &it, NULL);
	double x = 0;
	uint64_t y = 0;
	for (long i = 1; i <= 2000000; i++) {
		x += 1.0 / (double)i;
		y = y * 6364136223846793005ull + (uint64_t)i;
	}
	/* Keep the timer running until it has fired at least once. */
	for (long i = 0; i < 1000000000 && hits[SIGALRM] == 0; i++)
		;
	struct itimerval off = {{0, 0}, {0, 0}};
	setitimer(ITIMER_REAL, &off, NULL);
	printf("sums with a timer firing: %.15f %016llx, timer fired %s\n", x, (unsigned long long)y,
	       hits[SIGALRM] ? "yes" : "no");
}

static volatile void *handler_stack_addr;
static void on_altstack(int sig) {
	int local;
	handler_stack_addr = &local;
	hits[sig]++;
}

static void altstack(void) {
	static char stack[65536];
	stack_t ss = {.ss_sp = stack, .ss_size = sizeof stack, .ss_flags = 0};
	sigaltstack(&ss, NULL);
	install(SIGUSR2, on_altstack, SA_ONSTACK);
	raise(SIGUSR2);
	printf("handler ran on the alternate stack: %d\n",
	       (char *)handler_stack_addr >= stack && (char *)handler_stack_addr < stack + sizeof stack);
	ss.ss_flags = SS_DISABLE;
	sigaltstack(&ss, NULL);
}

static pthread_t main_thread;
static volatile int thread_got;
static void note_thread(int sig) {
	(void)sig;
	thread_got = pthread_equal(pthread_self(), main_thread) ? 1 : 2;
}

static void *waiter(void *arg) {
	(void)arg;
	sigset_t none;
	sigemptyset(&none);
	sigsuspend(&none);
	return NULL;
}

static void threads(void) {
	main_thread = pthread_self();
	install(SIGUSR1, note_thread, 0);
	sigset_t block, old;
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	/* The new thread inherits the blocked mask until it suspends. */
	pthread_sigmask(SIG_BLOCK, &block, &old);
	pthread_t t;
	pthread_create(&t, NULL, waiter, NULL);
	pthread_kill(t, SIGUSR1);
	pthread_join(t, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	printf("pthread_kill reached the %s thread\n", thread_got == 2 ? "other" : thread_got == 1 ? "main" : "no");
}

int main(void) {
	setvbuf(stdout, NULL, _IOLBF, 0);
	basics();
	masking();
	flags();
	faults();
	altstack();
	threads();
	state_survives();
	return 0;
}

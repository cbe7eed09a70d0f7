/* setjmp: non-local exits. longjmp out of deep recursion, through several
 * frames with callee-saved registers (integer and floating point) that
 * must come back, volatile locals modified after setjmp, a longjmp value
 * of 0 (which setjmp must return as 1), nested jump buffers, and
 * sigsetjmp/siglongjmp restoring the signal mask.
 *
 * Rebuild: ./build.sh (built at -O0 and -O2)
 */
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>

#include "corpus.h"

static jmp_buf outer, inner;
static int depth_reached;

/* recurse calls itself down to target, then jumps to buf with the depth.
 * It never returns, which GCC reports as infinite recursion. */
#pragma GCC diagnostic ignored "-Winfinite-recursion"
static void recurse(jmp_buf buf, int depth, int target) {
	volatile char pad[64];
	pad[depth % 64] = (char)depth;
	depth_reached = depth;
	if (depth < target)
		recurse(buf, depth + 1, target);
	longjmp(buf, depth + pad[depth % 64] - (char)depth);
}

/* Work that keeps values in callee-saved registers across the call that
 * longjmps, so that setjmp's restore of them is observable. */
static double saved_regs_survive(int seed) {
	register long a = seed * 3, b = seed * 5, c = seed * 7, d = seed * 11, e = seed * 13;
	register double x = seed * 0.5, y = seed * 0.25, z = seed * 0.125;
	if (setjmp(inner) == 0)
		recurse(inner, 0, 5 + seed);
	return (double)(a + b + c + d + e) + x + y + z;
}

static int zero_value(void) {
	static jmp_buf buf;
	int r = setjmp(buf);
	if (r == 0)
		longjmp(buf, 0);
	return r;
}

static int nested(void) {
	jmp_buf a, b;
	volatile int trail = 0;
	if (setjmp(a) == 0) {
		trail = trail * 10 + 1;
		if (setjmp(b) == 0) {
			trail = trail * 10 + 2;
			longjmp(b, 7);
		}
		trail = trail * 10 + 3;
		longjmp(a, 9);
	}
	trail = trail * 10 + 4;
	return trail;
}

static int masks(void) {
	sigjmp_buf with_mask, without_mask;
	sigset_t set, now;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	int result = 0;
	if (sigsetjmp(with_mask, 1) == 0) {
		sigprocmask(SIG_BLOCK, &set, NULL);
		siglongjmp(with_mask, 1);
	}
	sigprocmask(SIG_SETMASK, NULL, &now);
	result += sigismember(&now, SIGUSR1) ? 0 : 1; /* restored: unblocked again */
	if (sigsetjmp(without_mask, 0) == 0) {
		sigprocmask(SIG_BLOCK, &set, NULL);
		siglongjmp(without_mask, 1);
	}
	sigprocmask(SIG_SETMASK, NULL, &now);
	result += sigismember(&now, SIGUSR1) ? 10 : 0; /* not restored: still blocked */
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	return result;
}

int main(void) {
	volatile int counter = 0;
	int r = setjmp(outer);
	counter++;
	if (counter == 1) {
		recurse(outer, 0, 200);
	} else if (counter == 2) {
		printf("longjmp from depth %d returned %d\n", depth_reached, r);
		CHECK(r == 200);
		double sum = saved_regs_survive(1) + saved_regs_survive(2) + saved_regs_survive(3);
		printf("registers after longjmp: %g\n", sum);
		CHECK(sum == 39 * 6 + 0.875 * 6);
	} else {
		printf("second longjmp returned %d, counter %d\n", r, counter);
	}
	if (counter == 2)
		longjmp(outer, 42);

	int z = zero_value();
	printf("longjmp(buf, 0) makes setjmp return %d\n", z);
	CHECK(z == 1);
	int t = nested();
	printf("nested trail %d\n", t);
	CHECK(t == 1234);
	int m = masks();
	printf("sigsetjmp masks %d\n", m);
	CHECK(m == 11);
	return checks_report();
}

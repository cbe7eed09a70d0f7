/* fenv: the floating-point status register. Rounding modes (results of
 * division, conversion, addition and rint under each), the exception flags
 * each operation raises (inexact, underflow, overflow, divide by zero,
 * invalid), fegetenv/fesetenv/feholdexcept/feupdateenv, and an enabled
 * divide-by-zero trap delivered as SIGFPE to a handler.
 *
 * Rebuild: ./build.sh
 */
#define _GNU_SOURCE
#include <fenv.h>
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static void print_flags(const char *what) {
	int f = fetestexcept(FE_ALL_EXCEPT);
	printf("%-22s%s%s%s%s%s%s\n", what, f ? "" : " none", f & FE_INEXACT ? " inexact" : "",
	       f & FE_UNDERFLOW ? " underflow" : "", f & FE_OVERFLOW ? " overflow" : "",
	       f & FE_DIVBYZERO ? " divbyzero" : "", f & FE_INVALID ? " invalid" : "");
}

static volatile double one = 1.0, three = 3.0, zero = 0.0, big = DBL_MAX, tiny = DBL_MIN, two5 = 2.5;
static volatile float fone = 1.0f, fthree = 3.0f;
static volatile int64_t big_int = 9007199254740993ll;

static void flags(void) {
	volatile double r;
	feclearexcept(FE_ALL_EXCEPT);
	print_flags("cleared:");
	r = one + three;
	print_flags("1+3:");
	r = one / three;
	print_flags("1/3:");
	feclearexcept(FE_ALL_EXCEPT);
	r = one / zero;
	print_flags("1/0:");
	feclearexcept(FE_ALL_EXCEPT);
	r = zero / zero;
	print_flags("0/0:");
	feclearexcept(FE_ALL_EXCEPT);
	r = big * 2.0;
	print_flags("max*2:");
	feclearexcept(FE_ALL_EXCEPT);
	r = tiny / 3.0;
	print_flags("min/3:");
	feclearexcept(FE_ALL_EXCEPT);
	r = tiny / 2.0;
	print_flags("min/2:");
	feclearexcept(FE_ALL_EXCEPT);
	r = sqrt(-one);
	print_flags("sqrt(-1):");
	feclearexcept(FE_ALL_EXCEPT);
	volatile int i = (int)(big);
	print_flags("(int)max:");
	feclearexcept(FE_ALL_EXCEPT);
	volatile float f = (float)big;
	print_flags("(float)max:");
	feclearexcept(FE_ALL_EXCEPT);
	r = (double)big_int;
	print_flags("(double)2^53+1:");
	feclearexcept(FE_ALL_EXCEPT);
	feraiseexcept(FE_OVERFLOW | FE_INVALID);
	print_flags("raised:");
	feclearexcept(FE_INVALID);
	print_flags("cleared invalid:");
	fexcept_t saved;
	fegetexceptflag(&saved, FE_ALL_EXCEPT);
	feclearexcept(FE_ALL_EXCEPT);
	fesetexceptflag(&saved, FE_OVERFLOW);
	print_flags("restored overflow:");
	(void)r, (void)i, (void)f;
}

static void rounding(void) {
	static const struct {
		int mode;
		const char *name;
	} modes[] = {{FE_TONEAREST, "nearest"}, {FE_UPWARD, "upward"}, {FE_DOWNWARD, "downward"}, {FE_TOWARDZERO, "towardzero"}};
	for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
		int set = fesetround(modes[i].mode);
		printf("%-10s set %d get %d: 1/3 %a -1/3 %a 1/3f %a rint(2.5) %g rint(-2.5) %g nearbyint(-0.5) %g\n",
		       modes[i].name, set, fegetround() == modes[i].mode, one / three, -one / three,
		       (double)(fone / fthree), rint(two5), rint(-two5), nearbyint(-0.5 * one));
		printf("%-10s lrint(2.5) %ld llrint(-2.5) %lld (float)2^53+1 %a max+max %a 1+2^-60 %a sqrt(2) %a\n",
		       modes[i].name, lrint(two5), llrint(-two5), (double)(float)big_int, big + big,
		       one + 0x1p-60, sqrt(one * 2));
		printf("%-10s printf %.2f %.0f %.3e\n", modes[i].name, 2.675 * one, 0.5 * one, 1.0005 * one);
	}
	fesetround(FE_TONEAREST);
	printf("invalid mode rejected: %d\n", fesetround(12345) != 0);
}

static void environments(void) {
	fenv_t env, held;
	feclearexcept(FE_ALL_EXCEPT);
	fesetround(FE_UPWARD);
	fegetenv(&env);
	fesetround(FE_DOWNWARD);
	volatile double r = one / three;
	print_flags("before fesetenv:");
	fesetenv(&env);
	printf("fesetenv restores upward: %d\n", fegetround() == FE_UPWARD);
	print_flags("after fesetenv:");
	feholdexcept(&held);
	r = one / zero;
	print_flags("held 1/0:");
	feupdateenv(&held);
	print_flags("after feupdateenv:");
	fesetenv(FE_DFL_ENV);
	printf("default env: nearest %d\n", fegetround() == FE_TONEAREST);
	print_flags("default env:");
	(void)r;
}

static sigjmp_buf trap_return;

/* The handler does not look at si_code: qemu-hppa reports 0 where Linux
 * reports FPE_FLTDIV, and the corpus records qemu-hppa. */
static void on_fpe(int sig) { siglongjmp(trap_return, sig); }

static void traps(void) {
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_fpe;
	sigaction(SIGFPE, &sa, NULL);
	feclearexcept(FE_ALL_EXCEPT);
	printf("enable divbyzero: %d, enabled %#x\n", feenableexcept(FE_DIVBYZERO) != -1,
	       (unsigned)fegetexcept());
	int sig = sigsetjmp(trap_return, 1);
	if (sig == 0) {
		volatile double r = one / zero;
		printf("no trap: %g\n", r);
	} else {
		printf("trapped: signal %d\n", sig);
	}
	fedisableexcept(FE_ALL_EXCEPT);
	feclearexcept(FE_ALL_EXCEPT);
	volatile double r = one / zero;
	printf("disabled again: %g\n", r);
	print_flags("after trap:");
}

int main(void) {
	flags();
	rounding();
	environments();
	traps();
	return 0;
}

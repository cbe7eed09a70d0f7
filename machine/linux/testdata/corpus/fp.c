/* fp: floating point. Arithmetic in single and double precision on normal,
 * subnormal, infinite and NaN operands (PA-RISC's own NaN encoding shows in
 * the printed bits), libm functions, rounding functions, printf of doubles
 * with %f %e %g %a, strtod/strtof/sscanf, and conversions between floating
 * point and integers of every width. Results are printed exactly (%a and
 * the bit patterns).
 *
 * Rebuild: ./build.sh (built at -O0, -O2 and -O3)
 */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "corpus.h"

static uint64_t bits(double d) {
	uint64_t u;
	memcpy(&u, &d, sizeof u);
	return u;
}

static uint32_t fbits(float f) {
	uint32_t u;
	memcpy(&u, &f, sizeof u);
	return u;
}

static volatile double dv[] = {0.0, -0.0, 1.0, -1.5, 3.0, 0.1, 1e300, -1e-300, DBL_MIN, DBL_MAX,
			       4.9406564584124654e-324, 2.5, -2.5, 123456.789, INFINITY, -INFINITY};
#define NDV (sizeof dv / sizeof dv[0])

static void arithmetic(void) {
	uint32_t h = FNV_INIT;
	for (size_t i = 0; i < NDV; i++)
		for (size_t j = 0; j < NDV; j++) {
			double a = dv[i], b = dv[j];
			float fa = (float)a, fb = (float)b;
			h = fnv_u64(h, bits(a + b));
			h = fnv_u64(h, bits(a - b));
			h = fnv_u64(h, bits(a * b));
			h = fnv_u64(h, bits(a / b));
			h = fnv_u64(h, fbits(fa + fb) | (uint64_t)fbits(fa * fb) << 32);
			h = fnv_u64(h, fbits(fa / fb) | (uint64_t)fbits(fa - fb) << 32);
			h = fnv_u64(h, (uint64_t)(a < b) | (a <= b) << 1 | (a == b) << 2 | (a != b) << 3 |
					   (uint64_t)isunordered(a, b) << 4 | (uint64_t)isgreater(a, b) << 5 |
					   (uint64_t)(fa < fb) << 6);
		}
	printf("arithmetic %08x\n", h);

	volatile double zero = 0.0, one = 1.0;
	double nan = zero / zero, inf = one / zero;
	float fnan = (float)zero / (float)zero;
	printf("0/0 bits %016llx (single %08x) 1/0 %016llx, -nan %016llx\n", (unsigned long long)bits(nan),
	       fbits(fnan), (unsigned long long)bits(inf), (unsigned long long)bits(-nan));
	printf("nan compares: %d %d %d %d, isnan %d, signbit %d\n", nan == nan, nan != nan, nan < 1.0, nan > 1.0,
	       isnan(nan) != 0, signbit(nan) != 0);
	printf("sqrt(-1) %016llx, inf-inf %016llx, 0*inf %016llx\n", (unsigned long long)bits(sqrt(-one)),
	       (unsigned long long)bits(inf - inf), (unsigned long long)bits(zero * inf));
	double sub = DBL_MIN / 4096.0;
	printf("subnormal %a %a %a fpclassify %d %d %d %d\n", sub, sub * 3.5, sub / 1e10, fpclassify(sub),
	       fpclassify(one), fpclassify(zero), fpclassify(inf));
}

static void libm(void) {
	static const double xs[] = {-3.75, -1.0, -0.5, 0.0, 0.001, 0.5, 1.0, 2.0, 3.14159265358979, 10.0, 100.5, 1e6};
	for (size_t i = 0; i < sizeof xs / sizeof xs[0]; i++) {
		volatile double x = xs[i];
		printf("x=%-9g sin %a cos %a tan %a exp %a\n", x, sin(x), cos(x), tan(x), exp(x));
		printf("  log %a log10 %a log2 %a sqrt %a cbrt %a\n", log(x), log10(x), log2(x), sqrt(x), cbrt(x));
		printf("  pow(x,1.5) %a pow(2.5,x) %a fmod(x,0.7) %a atan2(x,2) %a\n", pow(x, 1.5), pow(2.5, x),
		       fmod(x, 0.7), atan2(x, 2.0));
		printf("  sinh %a tanh %a asin %a acos %a hypot %a expm1 %a log1p %a\n", sinh(x), tanh(x), asin(x / 4),
		       acos(x / 4), hypot(x, 3.0), expm1(x), log1p(x));
		float fx = (float)x;
		printf("  sinf %a expf %a powf %a sqrtf %a\n", sinf(fx), expf(fx), powf(fx, 0.5f), sqrtf(fx));
	}
	int e;
	double m = frexp(1234.5, &e);
	double ip, fr = modf(-7.625, &ip);
	printf("frexp %a %d ldexp %a modf %a %a remainder %a remquo ", m, e, ldexp(0.75, -1070), fr, ip,
	       remainder(10.5, 3.0));
	int q;
	double r = remquo(29.0, 8.0, &q);
	printf("%a %d\n", r, q);
}

static void rounding(void) {
	static const double xs[] = {-2.5, -1.5, -0.5, -0.4999, 0.5, 1.5, 2.5, 2.4999, 3.5, -3.7, 1e15 + 0.5, 4503599627370497.0};
	for (size_t i = 0; i < sizeof xs / sizeof xs[0]; i++) {
		volatile double x = xs[i];
		printf("%-22.4f floor %g ceil %g round %g trunc %g rint %g nearbyint %g lround %ld llrint %lld\n", x,
		       floor(x), ceil(x), round(x), trunc(x), rint(x), nearbyint(x), lround(x), llrint(x));
	}
	volatile float f = 2.5f;
	printf("floorf %g roundf %g rintf %g truncf %g\n", floorf(-f), roundf(f), rintf(f), truncf(-f));
}

static void formatting(void) {
	static const double xs[] = {0.0, -0.0, 1.0, -1.0, 0.1, 1.0 / 3.0, 2.0 / 3.0, 123456789.125, 1e-5, 1e21, 1e300,
				    5e-324, 0.5, 9.999999999999999e22, 100.0, 1.5e-7};
	for (size_t i = 0; i < sizeof xs / sizeof xs[0]; i++) {
		volatile double x = xs[i];
		printf("[%f] [%.0f] [%.3f] [%e] [%.10e] [%g] [%.15g] [%.17g] [%a] [%12.4g] [%-12.2e] [%+g]\n", x, x, x,
		       x, x, x, x, x, x, x, x, x);
	}
	volatile double inf = INFINITY, nan = NAN;
	printf("[%f] [%e] [%g] [%F] [%f] [%5.1f]\n", inf, -inf, nan, inf, -nan, nan);
	printf("[%.40f]\n[%.30e]\n", 0.1, 1.0 / 7.0);
	printf("[%Lf] [%La]\n", (long double)2.75, (long double)0.1);
	char buf[64];
	snprintf(buf, sizeof buf, "%.3g|%#g|%#.0f|%08.2f|%-8.1f|", 0.0001234, 1.0, 3.0, -3.14159, 2.5);
	printf("%s\n", buf);
}

static void parsing(void) {
	static const char *inputs[] = {"1.5", "  -0.0", "0x1.8p3", "1e-400", "1e400", "inf", "-Infinity", "nan",
				       "nan(123)", "123abc", ".5e1", "2.2250738585072011e-308", "4.9e-324",
				       "0.1000000000000000055511151231257827", "1.7976931348623157e308",
				       "179769313486231580793728971405303415079934132710037826936173778980444968292"
				       "764750946649017977587207096330286416692887910943807556155766786592213",
				       "", "x"};
	for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; i++) {
		char *end;
		errno = 0;
		double d = strtod(inputs[i], &end);
		int e = errno;
		errno = 0;
		float f = strtof(inputs[i], NULL);
		printf("strtod(\"%.20s\") = %a (%016llx) used %d erange %d; strtof %a erange %d\n", inputs[i], d,
		       (unsigned long long)bits(d), (int)(end - inputs[i]), e == ERANGE, (double)f, errno == ERANGE);
	}
	double a, b;
	int n = sscanf("3.25 -1e-3 rest", "%lf %lf", &a, &b);
	printf("sscanf %d %a %a atof %a\n", n, a, b, atof("6.02214076e23"));
}

static void conversions(void) {
	static const double xs[] = {0.0, -0.0, 0.9, -0.9, 1.5, -1.5, 2147483647.0, 2147483648.0, -2147483648.0,
				    -2147483649.0, 4294967295.0, 4294967296.0, 9007199254740993.0, -1e18, 1e19,
				    9.2233720368547758e18, 1.8446744073709552e19, 3e19, -1.0, 1e30, NAN, INFINITY};
	for (size_t i = 0; i < sizeof xs / sizeof xs[0]; i++) {
		volatile double x = xs[i];
		/* Out-of-range conversions are undefined in C; PA-RISC's
		 * fcnvfxt saturates, and that is what the printed values show. */
		printf("%-22.17g i32 %d u32 %u i64 %lld u64 %llu i16 %d f32 %a\n", x, (int32_t)x, (uint32_t)x,
		       (long long)(int64_t)x, (unsigned long long)(uint64_t)x, (int16_t)(int32_t)x, (double)(float)x);
	}
	static volatile int64_t is[] = {0, 1, -1, 16777217, -16777217, 9007199254740993ll, INT64_MAX, INT64_MIN,
					(int64_t)0xfedcba9876543210ull};
	for (size_t i = 0; i < sizeof is / sizeof is[0]; i++) {
		int64_t v = is[i];
		printf("%lld -> double %a float %a; as u64 -> double %a float %a; i32 -> double %a float %a\n",
		       (long long)v, (double)v, (double)(float)v, (double)(uint64_t)v, (double)(float)(uint64_t)v,
		       (double)(int32_t)v, (double)(float)(int32_t)v);
	}
	volatile uint32_t u = 4294967295u;
	printf("u32 max -> double %a float %a\n", (double)u, (double)(float)u);
}

int main(void) {
	arithmetic();
	libm();
	rounding();
	formatting();
	parsing();
	conversions();
	return 0;
}

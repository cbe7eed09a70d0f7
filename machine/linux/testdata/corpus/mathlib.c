/* mathlib: libm and floating-point conversions on edge values. Every
 * function of one and two arguments (double and float) over zeros,
 * subnormals, extremes, infinities, NaN, halfway cases and large
 * arguments, with the exception flags and errno each call leaves;
 * frexp/ldexp/modf/remquo/fma/lrint/llround and the classification
 * macros; rint, nearbyint, lrint, sqrt, exp and sin in every rounding
 * mode; complex functions; and conversions between double, float and
 * integers of every width and signedness, in every rounding mode, with
 * the flags an out-of-range conversion raises. Each function prints a
 * checksum of all its results and a few of them in full (%a).
 *
 * Built also with -O3 -march=2.0 (mathlib-pa20): GCC then contracts
 * a*b+c into PA-RISC 2.0's fused multiply-adds and returns with bve,
 * which qemu-hppa executes too.
 *
 * Rebuild: ./build.sh
 */
#include <complex.h>
#include <errno.h>
#include <fenv.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "corpus.h"

static volatile double values[] = {0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 2.0, 10.0, 1e-310, -1e-310, 4.9e-324, DBL_MIN, DBL_MAX,
				   -DBL_MAX, INFINITY, -INFINITY, NAN, 3.141592653589793, 1.5707963267948966, 100.25, -7.75, 1e22, 1e300,
				   0.1, 2.5, -2.5, 0.49999999999999994, 4503599627370496.5, 9007199254740993.0, 710.0, -745.5, 1e-5};
#define NVALUES (sizeof values / sizeof values[0])

static uint64_t bits64(double d) {
	uint64_t u;
	memcpy(&u, &d, sizeof u);
	return u;
}

static uint32_t bits32(float f) {
	uint32_t u;
	memcpy(&u, &f, sizeof u);
	return u;
}

/* fold adds a result, the exception flags and errno to a checksum. */
static uint32_t fold(uint32_t h, uint64_t result) {
	h = fnv_u64(h, result);
	return fnv_u64(h, (uint64_t)fetestexcept(FE_ALL_EXCEPT) << 32 | (uint32_t)errno);
}

static void reset(void) {
	feclearexcept(FE_ALL_EXCEPT);
	errno = 0;
}

static const struct {
	const char *name;
	double (*f)(double);
} unary[] = {
	{"sqrt", sqrt},   {"exp", exp},     {"exp2", exp2},   {"expm1", expm1}, {"log", log},   {"log2", log2},
	{"log10", log10}, {"log1p", log1p}, {"sin", sin},     {"cos", cos},     {"tan", tan},   {"asin", asin},
	{"acos", acos},   {"atan", atan},   {"sinh", sinh},   {"cosh", cosh},   {"tanh", tanh}, {"asinh", asinh},
	{"acosh", acosh}, {"atanh", atanh}, {"floor", floor}, {"ceil", ceil},   {"round", round}, {"trunc", trunc},
	{"rint", rint},   {"cbrt", cbrt},   {"erf", erf},     {"erfc", erfc},   {"tgamma", tgamma}, {"lgamma", lgamma},
	{"logb", logb},   {"j0", j0},       {"y0", y0},
};

static const struct {
	const char *name;
	double (*f)(double, double);
} binary[] = {
	{"pow", pow},   {"atan2", atan2}, {"fmod", fmod}, {"hypot", hypot}, {"remainder", remainder}, {"copysign", copysign},
	{"fmax", fmax}, {"fmin", fmin},   {"fdim", fdim}, {"nextafter", nextafter},
};

static const struct {
	const char *name;
	float (*f)(float);
} unaryf[] = {
	{"sqrtf", sqrtf},   {"expf", expf},   {"logf", logf},     {"sinf", sinf},   {"cosf", cosf},   {"tanf", tanf},
	{"atanf", atanf},   {"floorf", floorf}, {"roundf", roundf}, {"rintf", rintf}, {"cbrtf", cbrtf}, {"log2f", log2f},
	{"exp2f", exp2f},   {"tanhf", tanhf}, {"erff", erff},     {"tgammaf", tgammaf},
};

static void functions(void) {
	for (size_t k = 0; k < sizeof unary / sizeof unary[0]; k++) {
		uint32_t h = FNV_INIT;
		for (size_t i = 0; i < NVALUES; i++) {
			reset();
			h = fold(h, bits64(unary[k].f(values[i])));
		}
		printf("%-8s %08x  (0.5) %a  (1e-310) %a  (-1) %a  (710) %a\n", unary[k].name, h, unary[k].f(0.5), unary[k].f(1e-310),
		       unary[k].f(-1.0), unary[k].f(710.0));
	}
	for (size_t k = 0; k < sizeof binary / sizeof binary[0]; k++) {
		uint32_t h = FNV_INIT;
		for (size_t i = 0; i < NVALUES; i++)
			for (size_t j = 0; j < NVALUES; j += 3) {
				reset();
				h = fold(h, bits64(binary[k].f(values[i], values[j])));
			}
		printf("%-9s %08x  (2.5,-0.5) %a  (-0,-1) %a  (1e22,0.1) %a\n", binary[k].name, h, binary[k].f(2.5, -0.5),
		       binary[k].f(-0.0, -1.0), binary[k].f(1e22, 0.1));
	}
	for (size_t k = 0; k < sizeof unaryf / sizeof unaryf[0]; k++) {
		uint32_t h = FNV_INIT;
		for (size_t i = 0; i < NVALUES; i++) {
			reset();
			h = fold(h, bits32(unaryf[k].f((float)values[i])));
		}
		printf("%-8s %08x  (0.5) %a  (1e-40) %a\n", unaryf[k].name, h, unaryf[k].f(0.5f), unaryf[k].f(1e-40f));
	}
}

static void decompositions(void) {
	uint32_t h = FNV_INIT;
	for (size_t i = 0; i < NVALUES; i++) {
		double x = values[i], ipart;
		int e, quo;
		reset();
		h = fold(h, bits64(frexp(x, &e)) ^ (uint64_t)e);
		h = fold(h, bits64(modf(x, &ipart)) ^ bits64(ipart));
		h = fold(h, bits64(ldexp(x, 5)) ^ bits64(ldexp(x, -1070)) ^ bits64(scalbn(x, 1000)));
		h = fold(h, (uint64_t)ilogb(x));
		reset();
		h = fold(h, (uint64_t)lrint(x));
		reset();
		h = fold(h, (uint64_t)llrint(x));
		reset();
		h = fold(h, (uint64_t)lround(x) ^ (uint64_t)llround(x));
		h = fold(h, bits64(remquo(x, 3.0, &quo)) ^ (uint64_t)(quo & 7));
		h = fold(h, bits64(fma(x, 3.0, -0.1)));
		h = fold(h, (uint64_t)(signbit(x) != 0) | (uint64_t)isnan(x) << 1 | (uint64_t)(isinf(x) + 1) << 2 |
				(uint64_t)fpclassify(x) << 4 | (uint64_t)isnormal(x) << 8);
	}
	int e;
	double ipart, mantissa = frexp(1e-310, &e), fraction = modf(-7.75, &ipart);
	printf("decompositions %08x  frexp(1e-310) %a,%d  modf(-7.75) %a,%a  lrint(2.5) %ld  llround(-2.5) %lld\n", h,
	       mantissa, e, fraction, ipart, lrint(2.5), llround(-2.5));
}

static const int modes[] = {FE_TONEAREST, FE_UPWARD, FE_DOWNWARD, FE_TOWARDZERO};
static const char *mode_names[] = {"nearest", "upward", "downward", "towardzero"};

static void rounding_modes(void) {
	for (int m = 0; m < 4; m++) {
		fesetround(modes[m]);
		uint32_t h = FNV_INIT;
		for (size_t i = 0; i < NVALUES; i++) {
			double x = values[i];
			reset();
			h = fold(h, bits64(rint(x)) ^ bits64(nearbyint(x)));
			reset();
			h = fold(h, (uint64_t)lrint(x));
			h = fold(h, bits64(sqrt(x)) ^ bits64(exp(x)) ^ bits64(sin(x)));
			h = fold(h, bits32((float)x));
		}
		printf("%-10s %08x  rint(2.5) %a  sqrt(2) %a  exp(1) %a  (float)0.1 %a  1/3 %a\n", mode_names[m], h, rint(2.5),
		       sqrt(2.0), exp(1.0), (float)values[23], 1.0 / values[5] / -3.0);
	}
	fesetround(FE_TONEAREST);
}

static void complex_functions(void) {
	double complex zs[] = {0, 1, I, -1, 1 + I, 3 - 4 * I, 1e300 + 1e300 * I, 1e-310 + 0.5 * I, INFINITY, NAN + NAN * I, -0.0 - 0.0 * I};
	uint32_t h = FNV_INIT;
	for (size_t i = 0; i < sizeof zs / sizeof zs[0]; i++) {
		double complex z = zs[i];
		double complex r[] = {csqrt(z), cexp(z), clog(z), csin(z), ccos(z), ctan(z), casin(z), catanh(z), cpow(z, 2 + I), z * z,
				      z / (1 + 2 * I), cproj(z)};
		for (size_t k = 0; k < sizeof r / sizeof r[0]; k++)
			h = fnv_u64(fnv_u64(h, bits64(creal(r[k]))), bits64(cimag(r[k])));
		h = fnv_u64(fnv_u64(h, bits64(cabs(z))), bits64(carg(z)));
	}
	double complex w = csqrt(3 - 4 * I) * cexp(I);
	float complex f = csqrtf(1.5f + 2.5f * I) * cexpf(0.5f * I);
	printf("complex %08x  csqrt(3-4i)*cexp(i) (%a,%a)  float (%a,%a)\n", h, creal(w), cimag(w), crealf(f), cimagf(f));
}

static volatile int64_t int64s[] = {0, 1, -1, 16777217, -16777217, INT32_MAX, INT32_MIN, INT64_MAX, INT64_MIN, 9007199254740993LL,
				    0x7ffffffffffffc00LL, 0x123456789abcdefLL};
static volatile uint64_t uint64s[] = {UINT64_MAX, 0x8000000000000000ULL, 0x8000000000000401ULL, 0xfffffffffffff800ULL, UINT32_MAX,
				      0x100000001ULL};
static volatile double to_convert[] = {-0.0, 0.999, -1.5, 2147483647.5, 2147483648.0, -2147483649.0, 4294967296.0,
				       9.2233720368547758e18, -9.2233720368547758e18, 1.8446744073709552e19, 1e20, INFINITY, NAN, 1e-310,
				       -123456789012.75, 3.5e38, 16777217.0};

static void conversions(void) {
	for (size_t i = 0; i < sizeof to_convert / sizeof to_convert[0]; i++) {
		double d = to_convert[i];
		float f = (float)d;
		feclearexcept(FE_ALL_EXCEPT);
		int32_t i32 = (int32_t)d;
		uint32_t u32 = (uint32_t)d;
		int flags32 = fetestexcept(FE_ALL_EXCEPT);
		feclearexcept(FE_ALL_EXCEPT);
		int64_t i64 = (int64_t)d;
		uint64_t u64 = (uint64_t)d;
		int flags64 = fetestexcept(FE_ALL_EXCEPT);
		printf("%a -> %a i32 %d u32 %u (%02x) i64 %lld u64 %llu (%02x) float->i64 %lld s16 %d u8 %u\n", d, f, i32, u32, flags32,
		       (long long)i64, (unsigned long long)u64, flags64, (long long)(int64_t)f, (short)(int)d, (unsigned char)(int)d);
	}
	for (int m = 0; m < 4; m++) {
		fesetround(modes[m]);
		uint32_t h = FNV_INIT;
		for (size_t i = 0; i < sizeof int64s / sizeof int64s[0]; i++)
			h = fnv_u64(fnv_u64(h, bits64((double)int64s[i])), bits32((float)int64s[i]));
		for (size_t i = 0; i < sizeof uint64s / sizeof uint64s[0]; i++)
			h = fnv_u64(fnv_u64(h, bits64((double)uint64s[i])), bits32((float)uint64s[i]));
		for (size_t i = 0; i < sizeof to_convert / sizeof to_convert[0]; i++)
			h = fnv_u64(h, bits32((float)to_convert[i]));
		printf("%-10s integers to floating point %08x  (double)2^53+1 %a  (float)(2^63+2^10+1) %a\n", mode_names[m], h,
		       (double)int64s[9], (float)uint64s[2]);
	}
	fesetround(FE_TONEAREST);
}

/* A loop GCC turns into fused multiply-adds for PA-RISC 2.0. */
static void products(void) {
	double acc = 0;
	float accf = 0;
	uint32_t h = FNV_INIT;
	for (int i = 1; i < 3000; i++) {
		double a = 1.0 / i, b = sqrt((double)i), c = sin(i * 0.001);
		acc = a * b + acc - c * 1e-3;
		accf = (float)a * (float)c - accf * 0.5f;
		h = fnv_u64(h, bits64(a * b + c) ^ bits32((float)b * (float)c + (float)a));
	}
	printf("products %08x  %a %a\n", h, acc, accf);
}

int main(void) {
	functions();
	decompositions();
	rounding_modes();
	complex_functions();
	conversions();
	products();
	return 0;
}

/* arith: integer arithmetic of every width. Signed and unsigned division
 * and remainder (8, 16, 32 and 64 bits: PA-RISC has no divide instruction,
 * so these run GCC's millicode and libgcc), multiplication (xmpyu), add and
 * subtract with carry chains, wrap-around, overflow builtins, and shifts by
 * variable amounts. Prints checksums per operation and width plus a few
 * values in full.
 *
 * Rebuild: ./build.sh (built at -O0, -O1, -O2 and -O3)
 */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>

#include "corpus.h"

#define NVAL 96

/* Edge values first; the rest of each table is pseudo-random. */
static volatile int64_t s64[NVAL] = {0, 1, -1, 2, -2, 3, 7, -7, 10, 100, INT64_MAX, INT64_MIN,
				     INT32_MAX, INT32_MIN, 0x100000000ll, -0x100000000ll, 65535, -65536};
static volatile uint64_t u64[NVAL] = {0, 1, 2, 3, 7, 10, 255, 256, 65535, 65536, UINT32_MAX,
				      0x100000000ull, UINT64_MAX, UINT64_MAX - 1, 1ull << 63, 12345678901ull};

static void fill(void) {
	for (int i = 18; i < NVAL; i++) {
		uint64_t r = rnd64();
		/* Mix magnitudes so that small divisors are common. */
		s64[i] = (int64_t)(r >> (r & 63));
		if (i & 1)
			s64[i] = -s64[i];
	}
	for (int i = 16; i < NVAL; i++) {
		uint64_t r = rnd64();
		u64[i] = r >> (r & 63);
	}
}

/* DIVMOD_SIGNED checksums a/b and a%b over all pairs of the table at one
 * signed width, skipping the two undefined cases. */
#define DIVMOD_SIGNED(T, MIN)                                                 \
	static uint32_t divmod_##T(void) {                                    \
		uint32_t h = FNV_INIT;                                        \
		for (int i = 0; i < NVAL; i++)                                \
			for (int j = 0; j < NVAL; j++) {                      \
				T a = (T)s64[i], b = (T)s64[j];               \
				if (b == 0 || (a == MIN && b == -1))          \
					continue;                             \
				T q = a / b, r = a % b;                       \
				CHECK((T)(q * b + r) == a);                   \
				h = fnv_u64(h, (uint64_t)(int64_t)q);         \
				h = fnv_u64(h, (uint64_t)(int64_t)r);         \
			}                                                     \
		return h;                                                     \
	}

#define DIVMOD_UNSIGNED(T)                                                    \
	static uint32_t divmod_##T(void) {                                    \
		uint32_t h = FNV_INIT;                                        \
		for (int i = 0; i < NVAL; i++)                                \
			for (int j = 0; j < NVAL; j++) {                      \
				T a = (T)u64[i], b = (T)u64[j];               \
				if (b == 0)                                   \
					continue;                             \
				T q = a / b, r = a % b;                       \
				CHECK(r < b && (T)(q * b + r) == a);          \
				h = fnv_u64(h, q);                            \
				h = fnv_u64(h, r);                            \
			}                                                     \
		return h;                                                     \
	}

DIVMOD_SIGNED(int8_t, INT8_MIN)
DIVMOD_SIGNED(int16_t, INT16_MIN)
DIVMOD_SIGNED(int32_t, INT32_MIN)
DIVMOD_SIGNED(int64_t, INT64_MIN)
DIVMOD_UNSIGNED(uint8_t)
DIVMOD_UNSIGNED(uint16_t)
DIVMOD_UNSIGNED(uint32_t)
DIVMOD_UNSIGNED(uint64_t)

/* Division by constants: GCC turns these into multiply-high and shifts. */
static uint32_t divconst(void) {
	uint32_t h = FNV_INIT;
	for (int i = 0; i < NVAL; i++) {
		int32_t a = (int32_t)s64[i];
		uint32_t u = (uint32_t)u64[i];
		h = fnv_u64(h, (uint64_t)(a / 3) ^ (uint64_t)(a % 7) << 32);
		h = fnv_u64(h, (uint64_t)(a / 10) ^ (uint64_t)(a % 16) << 32);
		h = fnv_u64(h, (uint64_t)(u / 3) ^ (uint64_t)(u % 1000) << 32);
		h = fnv_u64(h, (uint64_t)(u / 65537) ^ (uint64_t)(u % 2) << 32);
		h = fnv_u64(h, (uint64_t)(s64[i] / 1000000007) ^ (uint64_t)(u64[i] % 10));
	}
	return h;
}

static uint32_t mul(void) {
	uint32_t h = FNV_INIT;
	for (int i = 0; i < NVAL; i++)
		for (int j = 0; j < NVAL; j += 3) {
			uint32_t a = (uint32_t)u64[i], b = (uint32_t)u64[j];
			int32_t sa = (int32_t)s64[i], sb = (int32_t)s64[j];
			h = fnv_u64(h, a * b);
			h = fnv_u64(h, (uint64_t)a * b);
			h = fnv_u64(h, (uint64_t)((int64_t)sa * sb));
			h = fnv_u64(h, u64[i] * u64[j]);
			h = fnv_u64(h, (uint64_t)((int16_t)sa * (int16_t)sb));
			h = fnv_u64(h, (uint64_t)((uint16_t)a * (uint8_t)b));
		}
	return h;
}

/* Add and subtract across widths: the 64-bit forms use add/addc and
 * sub/subb carry chains. */
static uint32_t addsub(void) {
	uint32_t h = FNV_INIT;
	for (int i = 0; i < NVAL; i++)
		for (int j = 0; j < NVAL; j++) {
			h = fnv_u64(h, u64[i] + u64[j]);
			h = fnv_u64(h, u64[i] - u64[j]);
			h = fnv_u64(h, (uint32_t)u64[i] - (uint32_t)u64[j]);
			h = fnv_u64(h, (uint8_t)((uint8_t)u64[i] + (uint8_t)u64[j]));
			h = fnv_u64(h, (uint64_t)(int64_t)(int16_t)((uint16_t)s64[i] - (uint16_t)s64[j]));
			h = fnv_u64(h, (uint64_t)(s64[i] < s64[j]) | (uint64_t)(u64[i] < u64[j]) << 1 |
					   (uint64_t)((int32_t)s64[i] <= (int32_t)s64[j]) << 2 |
					   (uint64_t)((uint32_t)u64[i] >= (uint32_t)u64[j]) << 3);
		}
	return h;
}

static uint32_t shifts(void) {
	uint32_t h = FNV_INIT;
	for (int i = 0; i < NVAL; i++) {
		for (volatile int n = 0; n < 64; n++) {
			h = fnv_u64(h, u64[i] << n);
			h = fnv_u64(h, u64[i] >> n);
			h = fnv_u64(h, (uint64_t)(s64[i] >> n));
			if (n < 32) {
				h = fnv_u64(h, (uint32_t)u64[i] << n);
				h = fnv_u64(h, (uint32_t)u64[i] >> n);
				h = fnv_u64(h, (uint64_t)(int64_t)((int32_t)s64[i] >> n));
				h = fnv_u64(h, ((uint32_t)u64[i] << n) | ((uint32_t)u64[i] >> ((32 - n) & 31)));
			}
		}
	}
	return h;
}

static void overflow(void) {
	volatile int32_t imax = INT32_MAX, imin = INT32_MIN;
	volatile uint32_t umax = UINT32_MAX;
	volatile int64_t lmax = INT64_MAX;
	int32_t r32;
	int64_t r64;
	uint32_t u32;
	printf("wrap u32 max+1=%u 0-1=%u\n", umax + 1, (uint32_t)0 - (uint32_t)(umax & 1));
	printf("wrap i32 max+1=%d min-1=%d -min=%d\n", (int32_t)((uint32_t)imax + 1),
	       (int32_t)((uint32_t)imin - 1), (int32_t)(0u - (uint32_t)imin));
	printf("wrap i64 max+1=%lld\n", (long long)(int64_t)((uint64_t)lmax + 1));
	int o1 = __builtin_add_overflow(imax, 1, &r32);
	int o2 = __builtin_sub_overflow(imin, 1, &r32);
	int o3 = __builtin_mul_overflow(imax, 2, &r32);
	int o4 = __builtin_mul_overflow(lmax, (int64_t)3, &r64);
	int o5 = __builtin_add_overflow(umax, 1u, &u32);
	int o6 = __builtin_add_overflow(imax - 1, 1, &r32);
	printf("overflow flags %d %d %d %d %d %d (last %d)\n", o1, o2, o3, o4, o5, o6, r32);
	CHECK(o1 && o2 && o3 && o4 && o5 && !o6);
}

static void samples(void) {
	volatile int64_t a = -1234567890123ll, b = 987654;
	volatile uint64_t c = 18446744073709551557ull, d = 4294967311ull;
	volatile int32_t e = -2147483647, f = 46341;
	printf("s64 %lld / %lld = %lld rem %lld\n", (long long)a, (long long)b, (long long)(a / b),
	       (long long)(a % b));
	printf("u64 %llu / %llu = %llu rem %llu\n", (unsigned long long)c, (unsigned long long)d,
	       (unsigned long long)(c / d), (unsigned long long)(c % d));
	printf("s32 %d / %d = %d rem %d, * = %d\n", e, f, e / f, e % f, (int32_t)((uint32_t)e * (uint32_t)f));
	printf("neg rem: -7/2=%d -7%%2=%d 7/-2=%d 7%%-2=%d\n", (int)(s64[7] / s64[3]), (int)(s64[7] % s64[3]),
	       (int)(s64[6] / s64[4]), (int)(s64[6] % s64[4]));
}

int main(void) {
	fill();
	samples();
	overflow();
	printf("divmod int8 %08x int16 %08x int32 %08x int64 %08x\n", divmod_int8_t(), divmod_int16_t(),
	       divmod_int32_t(), divmod_int64_t());
	printf("divmod uint8 %08x uint16 %08x uint32 %08x uint64 %08x\n", divmod_uint8_t(), divmod_uint16_t(),
	       divmod_uint32_t(), divmod_uint64_t());
	printf("divconst %08x\n", divconst());
	printf("mul %08x\n", mul());
	printf("addsub %08x\n", addsub());
	printf("shifts %08x\n", shifts());
	return checks_report();
}

/* bits: bit operations. popcount, clz, ctz, ffs and parity (builtins and
 * a reference loop), byte swaps of 16, 32 and 64 bits, rotations, signed
 * and unsigned bit fields of odd widths and positions (extract and deposit
 * instructions), and single-bit tests (branch on bit).
 *
 * Rebuild: ./build.sh (built at -O0, -O2 and -O3)
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "corpus.h"

#define NVAL 512

static volatile uint64_t vals[NVAL] = {0, 1, 0x80000000u, 0xffffffffu, 0x8000000000000000ull,
				       0xffffffffffffffffull, 0x0123456789abcdefull, 0x00ff00ff00ff00ffull};

static int ref_popcount(uint64_t v) {
	int n = 0;
	for (; v; v >>= 1)
		n += v & 1;
	return n;
}

static int ref_clz64(uint64_t v) {
	int n = 0;
	for (uint64_t m = 1ull << 63; m && !(v & m); m >>= 1)
		n++;
	return n;
}

static int ref_ctz64(uint64_t v) {
	int n = 0;
	for (; n < 64 && !(v & 1); v >>= 1)
		n++;
	return n;
}

static uint64_t ref_bswap64(uint64_t v) {
	uint64_t r = 0;
	for (int i = 0; i < 8; i++)
		r = r << 8 | ((v >> (8 * i)) & 0xff);
	return r;
}

static void counts(void) {
	uint32_t h = FNV_INIT;
	for (int i = 0; i < NVAL; i++) {
		uint64_t v = vals[i];
		uint32_t w = (uint32_t)v;
		CHECK(__builtin_popcountll(v) == ref_popcount(v));
		CHECK(__builtin_popcount(w) == ref_popcount(w));
		CHECK(__builtin_parityll(v) == (ref_popcount(v) & 1));
		if (v) {
			CHECK(__builtin_clzll(v) == ref_clz64(v));
			CHECK(__builtin_ctzll(v) == ref_ctz64(v));
		}
		if (w) {
			CHECK(__builtin_clz(w) == ref_clz64(w) - 32);
			CHECK(__builtin_ctz(w) == ref_ctz64(w));
		}
		CHECK(__builtin_ffsll((long long)v) == (v ? ref_ctz64(v) + 1 : 0));
		CHECK(__builtin_clrsb((int32_t)w) == (w >> 31 ? ref_clz64(~w & 0xffffffffu) - 33 : ref_clz64(w) - 33));
		h = fnv_u64(h, (uint64_t)__builtin_popcountll(v) << 40 | (uint64_t)__builtin_parity(w) << 32 |
				   (v ? (uint64_t)__builtin_clzll(v) << 8 | (uint64_t)__builtin_ctzll(v) : 0xffff));
	}
	printf("counts %08x\n", h);
}

static void swaps(void) {
	uint32_t h = FNV_INIT;
	for (int i = 0; i < NVAL; i++) {
		uint64_t v = vals[i];
		CHECK(__builtin_bswap64(v) == ref_bswap64(v));
		CHECK(__builtin_bswap32((uint32_t)v) == (uint32_t)(ref_bswap64((uint32_t)v) >> 32));
		CHECK(__builtin_bswap16((uint16_t)v) == (uint16_t)(ref_bswap64((uint16_t)v) >> 48));
		h = fnv_u64(h, __builtin_bswap64(v));
		h = fnv_u64(h, __builtin_bswap32((uint32_t)(v >> 16)));
		h = fnv_u64(h, __builtin_bswap16((uint16_t)(v >> 5)));
	}
	/* A byte swap through memory: store big-endian, read it back bytewise. */
	uint32_t x = 0x11223344;
	unsigned char b[4];
	memcpy(b, &x, 4);
	printf("bswap %08x memory order %02x %02x %02x %02x, %08x\n", h, b[0], b[1], b[2], b[3],
	       __builtin_bswap32(x));
}

static uint32_t rotl32(uint32_t v, unsigned n) { return (v << (n & 31)) | (v >> (-n & 31)); }
static uint64_t rotr64(uint64_t v, unsigned n) { return (v >> (n & 63)) | (v << (-n & 63)); }

static void rotations(void) {
	uint32_t h = FNV_INIT;
	for (int i = 0; i < NVAL; i += 3)
		for (volatile unsigned n = 0; n < 70; n++) {
			h = fnv_u64(h, rotl32((uint32_t)vals[i], n));
			h = fnv_u64(h, rotr64(vals[i], n));
		}
	printf("rotations %08x\n", h);
}

struct fields {
	unsigned a : 3;
	signed b : 5;
	unsigned c : 1;
	signed d : 13;
	unsigned e : 10;
	/* Crosses the 32-bit word boundary when packed. */
	unsigned long long f : 37;
	signed long long g : 27;
} __attribute__((packed));

static void bitfields(void) {
	uint32_t h = FNV_INIT;
	struct fields s;
	memset(&s, 0, sizeof s);
	for (int i = 0; i < NVAL; i++) {
		uint64_t v = vals[i];
		s.a = v;
		s.b = v >> 3;
		s.c = v >> 8;
		s.d = v >> 9;
		s.e = v >> 22;
		s.f = v >> 7;
		s.g = v >> 30;
		CHECK(s.a == (v & 7));
		CHECK(s.b == ((int64_t)(v << 56) >> 59));
		CHECK(s.d == ((int64_t)(v << 42) >> 51));
		CHECK(s.f == ((v >> 7) & ((1ull << 37) - 1)));
		CHECK(s.g == ((int64_t)(v << 7) >> 37));
		h = fnv1a(h, &s, sizeof s);
		h = fnv_u64(h, (uint64_t)(int64_t)(s.b + s.d) ^ s.e ^ (uint64_t)s.g);
	}
	printf("bitfields size %zu %08x\n", sizeof(struct fields), h);
}

/* Bit tests the compiler turns into branch-on-bit and extract. */
static void bittests(void) {
	uint32_t h = FNV_INIT;
	for (int i = 0; i < NVAL; i++) {
		uint32_t v = (uint32_t)vals[i];
		unsigned mask = 0;
		if (v & 1)
			mask |= 1;
		if (v & 0x80)
			mask |= 2;
		if (v & 0x10000)
			mask |= 4;
		if ((int32_t)v < 0)
			mask |= 8;
		for (volatile int bit = 0; bit < 32; bit += 5)
			if (v >> bit & 1)
				mask += 16;
		h = fnv_u64(h, mask);
		h = fnv_u64(h, (v & -v) ^ (v | (v - 1)) ^ (v & (v - 1)) ^ ~v);
	}
	printf("bittests %08x\n", h);
}

int main(void) {
	for (int i = 8; i < NVAL; i++) {
		uint64_t r = rnd64();
		/* Vary the density of set bits. */
		vals[i] = i % 3 == 0 ? r & rnd64() : i % 3 == 1 ? r | rnd64() : r;
	}
	counts();
	swaps();
	rotations();
	bitfields();
	bittests();
	return checks_report();
}

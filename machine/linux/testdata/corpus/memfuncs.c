/* memfuncs: glibc's string and memory functions at every alignment of
 * source and destination and many lengths (their PA-RISC versions use
 * word and double-word copies, stby/stbys and unaligned tails), each
 * checked against a byte-at-a-time reference and the guard bytes around
 * it; prints a checksum per function.
 *
 * Rebuild: ./build.sh
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "corpus.h"

#define AREA 1024
#define GUARD 0xa5

static unsigned char src[AREA + 64], dst[AREA + 64], ref[AREA + 64];

static const size_t lengths[] = {0, 1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 255, 256, 257, 511, 700};
#define NLEN (sizeof lengths / sizeof lengths[0])

static void fill_src(void) {
	for (size_t i = 0; i < sizeof src; i++)
		src[i] = (unsigned char)(rnd32() | 1);
}

static void reset(void) {
	memset(dst, GUARD, sizeof dst);
	memset(ref, GUARD, sizeof ref);
}

static void copies(void) {
	uint32_t h = FNV_INIT;
	for (size_t li = 0; li < NLEN; li++)
		for (int sa = 0; sa < 8; sa++)
			for (int da = 0; da < 8; da++) {
				size_t n = lengths[li];
				reset();
				memcpy(dst + da, src + sa, n);
				for (size_t i = 0; i < n; i++)
					ref[da + i] = src[sa + i];
				CHECK(memcmp(dst, ref, sizeof dst) == 0);
				h = fnv1a(h, dst, n + 16);
			}
	printf("memcpy %08x\n", h);
}

/* Overlapping moves in both directions. */
static void moves(void) {
	uint32_t h = FNV_INIT;
	for (size_t li = 0; li < NLEN; li++)
		for (int off = -9; off <= 9; off++) {
			size_t n = lengths[li];
			memcpy(dst, src, sizeof dst);
			memcpy(ref, src, sizeof ref);
			size_t from = 20, to = (size_t)(20 + off);
			memmove(dst + to, dst + from, n);
			unsigned char tmp[AREA];
			for (size_t i = 0; i < n; i++)
				tmp[i] = ref[from + i];
			for (size_t i = 0; i < n; i++)
				ref[to + i] = tmp[i];
			CHECK(memcmp(dst, ref, sizeof dst) == 0);
			h = fnv1a(h, dst, n + 40);
		}
	printf("memmove %08x\n", h);
}

static void sets(void) {
	uint32_t h = FNV_INIT;
	for (size_t li = 0; li < NLEN; li++)
		for (int da = 0; da < 8; da++) {
			size_t n = lengths[li];
			int c = (int)(n * 7 + (size_t)da) & 0xff;
			reset();
			memset(dst + da, c, n);
			for (size_t i = 0; i < n; i++)
				ref[da + i] = (unsigned char)c;
			CHECK(memcmp(dst, ref, sizeof dst) == 0);
			bzero(dst + da, n / 2);
			h = fnv1a(h, dst, n + 16);
		}
	printf("memset %08x\n", h);
}

static int sign(int v) { return (v > 0) - (v < 0); }

static int ref_memcmp(const unsigned char *a, const unsigned char *b, size_t n) {
	for (size_t i = 0; i < n; i++)
		if (a[i] != b[i])
			return a[i] < b[i] ? -1 : 1;
	return 0;
}

static void compares(void) {
	uint32_t h = FNV_INIT;
	for (size_t li = 0; li < NLEN; li++)
		for (int sa = 0; sa < 4; sa++)
			for (int da = 0; da < 4; da++) {
				size_t n = lengths[li];
				memcpy(dst + da, src + sa, n);
				/* Differ at a position that depends on the case, sometimes not at all. */
				size_t at = n ? (n * 5 + (size_t)sa) % (n + 1) : 0;
				if (at < n)
					dst[da + at] ^= (unsigned char)(0x80 >> (sa + da));
				int got = sign(memcmp(dst + da, src + sa, n));
				CHECK(got == ref_memcmp(dst + da, src + sa, n));
				h = fnv_u64(h, (uint64_t)(int64_t)got);
			}
	printf("memcmp %08x\n", h);
}

static void strings(void) {
	uint32_t h = FNV_INIT;
	char buf[AREA + 64], buf2[AREA + 64], buf3[AREA + 64];
	for (size_t li = 0; li < NLEN; li++)
		for (int a = 0; a < 8; a++) {
			size_t n = lengths[li];
			memset(buf, 'x', sizeof buf);
			memcpy(buf + a, src, n); /* src has no zero bytes */
			buf[a + n] = 0;
			CHECK(strlen(buf + a) == n);
			CHECK(strnlen(buf + a, n / 2) == n / 2);
			char want = n ? (char)src[n / 2] : 'Q';
			char *p = strchr(buf + a, want);
			char *q = strrchr(buf + a, want);
			char *m = memchr(buf + a, want, n);
			size_t first = n;
			for (size_t i = 0; i < n; i++)
				if ((char)src[i] == want) {
					first = i;
					break;
				}
			CHECK(n == 0 || (p == buf + a + first && m == p && q >= p));
			CHECK(strchr(buf + a, 0) == buf + a + n);
			h = fnv_u64(h, (uint64_t)(p ? p - buf : -1) << 32 | (uint64_t)(q ? q - buf : -1));

			strcpy(buf2 + (7 - a), buf + a);
			CHECK(strcmp(buf2 + (7 - a), buf + a) == 0);
			strncpy(buf3, buf + a, n / 3 + 2);
			CHECK(strncmp(buf3, buf + a, n / 3 + 2) == 0);
			unsigned char *last = (unsigned char *)buf2 + (7 - a) + n - 1;
			if (n > 2 && *last < 0xff) {
				++*last;
				CHECK(strcmp(buf2 + (7 - a), buf + a) > 0);
				CHECK(strcmp(buf + a, buf2 + (7 - a)) < 0);
			}
			h = fnv1a(h, buf2, n + 8);
			h = fnv1a(h, buf3, n / 3 + 2);
		}
	printf("strings %08x\n", h);
}

static void searches(void) {
	static const char hay[] = "the quick brown fox jumps over the lazy dog; THE QUICK BROWN FOX";
	const char *needles[] = {"the", "fox", "dog;", "QUICK BROWN", "cat", "", "X", "lazy dog; T"};
	for (size_t i = 0; i < sizeof needles / sizeof needles[0]; i++) {
		const char *p = strstr(hay, needles[i]);
		const char *c = strcasestr(hay + 10, needles[i]);
		printf("strstr %-12s %3ld casestr %3ld span %zu cspan %zu\n", needles[i], p ? (long)(p - hay) : -1L,
		       c ? (long)(c - hay) : -1L, strspn(hay, "the qu"), strcspn(hay, needles[i]));
	}
	char tok[] = "a,b,,c;;d e";
	char *save;
	printf("tokens:");
	for (char *t = strtok_r(tok, ",; ", &save); t; t = strtok_r(NULL, ",; ", &save))
		printf(" [%s]", t);
	printf("\ncase %d %d %d\n", sign(strcasecmp("Hello", "hELLO")), sign(strcasecmp("abc", "abd")),
	       sign(strncasecmp("ABCx", "abcY", 3)));
}

int main(void) {
	fill_src();
	copies();
	moves();
	sets();
	compares();
	strings();
	searches();
	return checks_report();
}

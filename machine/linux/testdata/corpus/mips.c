/* mips: the CPU-bound guest the benchmarks time. Each round runs a mix of
 * integer work typical of real programs: table-driven CRC32 over a
 * buffer, a heap sort of pseudo-random keys, an integer matrix multiply
 * and FNV/djb2 hashing of generated strings. It prints one checksum per
 * kernel, so a wrong instruction anywhere shows.
 *
 * Usage: mips [rounds]   (default 400: a second or two under qemu-hppa)
 *
 * Rebuild: ./build.sh
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "corpus.h"

#define BUF 65536
#define KEYS 20000
#define DIM 48
#define WORDS 4000

static uint32_t crc_table[256];

static void crc_init(void) {
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
		crc_table[i] = c;
	}
}

static uint32_t crc32(const unsigned char *p, size_t n, uint32_t crc) {
	crc = ~crc;
	for (size_t i = 0; i < n; i++)
		crc = crc_table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
	return ~crc;
}

static void sift_down(uint32_t *a, size_t start, size_t end) {
	size_t root = start;
	while (2 * root + 1 <= end) {
		size_t child = 2 * root + 1, swap = root;
		if (a[swap] < a[child])
			swap = child;
		if (child + 1 <= end && a[swap] < a[child + 1])
			swap = child + 1;
		if (swap == root)
			return;
		uint32_t t = a[root];
		a[root] = a[swap];
		a[swap] = t;
		root = swap;
	}
}

static void heap_sort(uint32_t *a, size_t n) {
	for (size_t start = n / 2; start-- > 0;)
		sift_down(a, start, n - 1);
	for (size_t end = n - 1; end > 0; end--) {
		uint32_t t = a[0];
		a[0] = a[end];
		a[end] = t;
		sift_down(a, 0, end - 1);
	}
}

static void matmul(int32_t c[DIM][DIM], int32_t a[DIM][DIM], int32_t b[DIM][DIM]) {
	for (int i = 0; i < DIM; i++)
		for (int j = 0; j < DIM; j++) {
			int32_t sum = 0;
			for (int k = 0; k < DIM; k++)
				sum += a[i][k] * b[k][j];
			c[i][j] = sum;
		}
}

static uint32_t djb2(const char *s) {
	uint32_t h = 5381;
	while (*s)
		h = h * 33 + (unsigned char)*s++;
	return h;
}

int main(int argc, char **argv) {
	long rounds = argc > 1 ? atol(argv[1]) : 400;
	if (rounds < 1 || rounds > 100000) {
		fprintf(stderr, "mips: rounds must be between 1 and 100000\n");
		return 2;
	}
	static unsigned char buf[BUF];
	static uint32_t keys[KEYS];
	static int32_t a[DIM][DIM], b[DIM][DIM], c[DIM][DIM];
	static char words[WORDS][16];
	crc_init();
	uint32_t crc = 0, sorted = FNV_INIT, mat = FNV_INIT, hashes = FNV_INIT;
	for (long r = 0; r < rounds; r++) {
		for (size_t i = 0; i < BUF; i++)
			buf[i] = (unsigned char)rnd32();
		crc = crc32(buf, BUF, crc);

		for (size_t i = 0; i < KEYS; i++)
			keys[i] = rnd32();
		heap_sort(keys, KEYS);
		sorted = fnv_u64(sorted, (uint64_t)keys[0] << 32 | keys[KEYS / 2]);
		sorted = fnv_u64(sorted, keys[KEYS - 1]);

		for (int i = 0; i < DIM; i++)
			for (int j = 0; j < DIM; j++) {
				a[i][j] = (int32_t)(rnd32() % 2001) - 1000;
				b[i][j] = (int32_t)(rnd32() % 2001) - 1000;
			}
		matmul(c, a, b);
		mat = fnv1a(mat, c, sizeof c);

		for (int i = 0; i < WORDS; i++) {
			uint32_t v = rnd32();
			int len = 3 + (int)(v % 12);
			for (int k = 0; k < len; k++)
				words[i][k] = (char)('a' + (v >> k) % 26);
			words[i][len] = 0;
			hashes = fnv_u64(hashes, djb2(words[i]) ^ fnv1a(FNV_INIT, words[i], (size_t)len));
		}
	}
	printf("rounds %ld crc32 %08x sort %08x matmul %08x hash %08x\n", rounds, crc, sorted, mat, hashes);
	return 0;
}

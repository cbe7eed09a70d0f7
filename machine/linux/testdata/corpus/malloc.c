/* malloc: the allocator at scale. Thousands of blocks of sizes from 0 to
 * 384 KiB (small ones from brk, large ones from mmap2), filled with a
 * pattern derived from their slot, grown and shrunk with realloc, freed in
 * a scrambled order, and verified all along; calloc zeroes, aligned
 * allocations are aligned, and a huge request fails cleanly.
 *
 * Rebuild: ./build.sh
 */
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "corpus.h"

#define SLOTS 2048
#define ROUNDS 8000

static unsigned char *blocks[SLOTS];
static size_t sizes[SLOTS];
static uint32_t tags[SLOTS];

static size_t pick_size(void) {
	uint32_t r = rnd32();
	switch (r % 16) {
	case 0:
		return 0;
	case 1:
		return 128 * 1024 + r % (256 * 1024); /* mmap threshold and beyond */
	case 2:
	case 3:
		return r % 8192;
	default:
		return r % 200;
	}
}

static unsigned char pattern(uint32_t tag, size_t i) { return (unsigned char)(tag + i * 31 + (i >> 8)); }

/* Blocks beyond a few pages get every 61st byte and their last one
 * patterned and checked: enough to catch a bad copy or an overlap, and it
 * keeps the program fast. */
static size_t stride(size_t n) { return n > 4096 ? 61 : 1; }

static void fill(int s) {
	size_t n = sizes[s];
	for (size_t i = 0; i < n; i += stride(n))
		blocks[s][i] = pattern(tags[s], i);
	if (n)
		blocks[s][n - 1] = pattern(tags[s], n - 1);
}

/* intact checks the first n bytes of block s, which was filled when it
 * was filled bytes long. */
static int intact(int s, size_t filled, size_t n) {
	size_t step = stride(filled);
	for (size_t i = 0; i < n; i += step)
		if (blocks[s][i] != pattern(tags[s], i))
			return 0;
	return n < filled || n == 0 || blocks[s][n - 1] == pattern(tags[s], n - 1);
}

int main(void) {
	uint32_t h = FNV_INIT;
	long allocs = 0, reallocs = 0, frees = 0, corrupt = 0;
	for (int round = 0; round < ROUNDS; round++) {
		int s = (int)(rnd32() % SLOTS);
		if (blocks[s] == NULL) {
			sizes[s] = pick_size();
			tags[s] = rnd32();
			blocks[s] = malloc(sizes[s]);
			if (blocks[s] == NULL && sizes[s] != 0) {
				printf("malloc(%zu) failed\n", sizes[s]);
				return 1;
			}
			if (blocks[s] == NULL)
				blocks[s] = malloc(1);
			fill(s);
			allocs++;
		} else if (rnd32() % 3 == 0) {
			size_t old = sizes[s], want = pick_size();
			unsigned char *p = realloc(blocks[s], want ? want : 1);
			if (p == NULL) {
				printf("realloc(%zu) failed\n", want);
				return 1;
			}
			blocks[s] = p;
			sizes[s] = want;
			if (!intact(s, old, old < want ? old : want))
				corrupt++;
			fill(s);
			reallocs++;
		} else {
			if (!intact(s, sizes[s], sizes[s]))
				corrupt++;
			h = fnv_u64(h, sizes[s]);
			h = fnv_u64(h, sizes[s] ? (uint64_t)blocks[s][0] << 8 | blocks[s][sizes[s] - 1] : 0);
			free(blocks[s]);
			blocks[s] = NULL;
			frees++;
		}
	}
	size_t live = 0;
	for (int s = 0; s < SLOTS; s++)
		if (blocks[s]) {
			if (!intact(s, sizes[s], sizes[s]))
				corrupt++;
			live += sizes[s];
			free(blocks[s]);
		}
	printf("allocs %ld reallocs %ld frees %ld corrupt %ld live bytes at end %zu checksum %08x\n", allocs, reallocs,
	       frees, corrupt, live, h);
	CHECK(corrupt == 0);

	/* calloc returns zeroed memory even where freed blocks were dirty. */
	int zeroed = 1;
	for (int i = 0; i < 64; i++) {
		size_t n = 16 + (size_t)i * 997;
		unsigned char *p = calloc(n, 1);
		for (size_t j = 0; j < n; j++)
			zeroed &= p[j] == 0;
		memset(p, 0xee, n);
		free(p);
	}
	CHECK(zeroed);

	for (size_t align = 8; align <= 65536; align *= 4) {
		void *p = NULL;
		int err = posix_memalign(&p, align, 1000);
		void *q = aligned_alloc(align, align * 2);
		void *m = memalign(align, 24);
		CHECK(err == 0 && ((uintptr_t)p & (align - 1)) == 0);
		CHECK(q != NULL && ((uintptr_t)q & (align - 1)) == 0);
		CHECK(m != NULL && ((uintptr_t)m & (align - 1)) == 0);
		free(p);
		free(q);
		free(m);
	}
	/* malloc hands out 8-byte aligned blocks on hppa (16 for long double on some ABIs). */
	int aligned = 1;
	for (int i = 1; i < 100; i++) {
		void *p = malloc((size_t)i);
		aligned &= ((uintptr_t)p & 7) == 0;
		free(p);
	}
	CHECK(aligned);

	/* Sizes the compiler cannot see, so that it does not warn about them. */
	volatile size_t three_gib = (size_t)3 << 30, mib = (size_t)1 << 20, eight_kib = 8192;
	errno = 0;
	void *huge = malloc(three_gib);
	printf("3 GiB malloc: %s, ENOMEM %d\n", huge ? "succeeded" : "failed", errno == ENOMEM);
	free(huge);
	void *overflow = calloc(mib, eight_kib);
	printf("calloc overflow: %s\n", overflow ? "succeeded" : "failed");
	free(overflow);
	return checks_report();
}

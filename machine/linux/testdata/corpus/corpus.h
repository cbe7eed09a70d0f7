/* corpus.h: what the corpus programs share.
 *
 * - rnd32/rnd64: a fixed pseudo-random sequence (xorshift), so a program
 *   computes on many values the compiler cannot fold into constants, and
 *   every run sees the same ones.
 * - fnv1a: a checksum, so a program prints one line for a large result
 *   instead of dumping it.
 * - CHECK: a self-check that prints the failing expression; a program
 *   prints how many checks passed, so the golden output also records that
 *   the results agree with C's rules, not only with qemu-hppa.
 */
#ifndef CORPUS_H
#define CORPUS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static inline uint64_t rnd64(void) {
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static inline uint32_t rnd32(void) { return (uint32_t)(rnd64() >> 16); }

static inline uint32_t fnv1a(uint32_t h, const void *p, size_t n) {
	const unsigned char *b = p;
	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 16777619u;
	}
	return h;
}

#define FNV_INIT 2166136261u

/* fnv_u64 folds one value into a checksum, big-endian byte order. */
static inline uint32_t fnv_u64(uint32_t h, uint64_t v) {
	for (int i = 56; i >= 0; i -= 8) {
		h ^= (unsigned char)(v >> i);
		h *= 16777619u;
	}
	return h;
}

/* Threads check too, so the tallies are updated atomically. */
static int checks_passed, checks_failed;

#define CHECK(cond)                                                              \
	do {                                                                     \
		if (cond) {                                                      \
			__atomic_fetch_add(&checks_passed, 1, __ATOMIC_RELAXED); \
		} else {                                                         \
			__atomic_fetch_add(&checks_failed, 1, __ATOMIC_RELAXED); \
			printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);   \
		}                                                                \
	} while (0)

/* checks_report prints the tally and returns main's exit status. */
static inline int checks_report(void) {
	printf("checks: %d passed, %d failed\n", checks_passed, checks_failed);
	return checks_failed != 0;
}

#endif

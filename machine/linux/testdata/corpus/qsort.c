/* qsort: glibc's qsort and bsearch through comparison callbacks, on ints,
 * 64-bit keys, doubles, strings and structs larger than a word (stable
 * order is checked through a tie-breaking index), and lsearch/lfind.
 *
 * Rebuild: ./build.sh
 */
#include <search.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "corpus.h"

#define N 5000

static int cmp_int(const void *a, const void *b) {
	int x = *(const int *)a, y = *(const int *)b;
	return (x > y) - (x < y);
}

static int cmp_u64_desc(const void *a, const void *b) {
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x < y) - (x > y);
}

static int cmp_double(const void *a, const void *b) {
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

struct record {
	char name[13];
	short group;
	int index;
	double weight;
};

static int cmp_record(const void *a, const void *b) {
	const struct record *x = a, *y = b;
	if (x->group != y->group)
		return x->group - y->group;
	return x->index - y->index;
}

int main(void) {
	static int ints[N];
	static uint64_t keys[N];
	static double dbls[N];
	static struct record recs[N];
	static char words[N][12];
	static char *strs[N];

	for (int i = 0; i < N; i++) {
		ints[i] = (int)(rnd32() % 1000) - 500;
		keys[i] = rnd64();
		dbls[i] = (double)(int32_t)rnd32() / ((rnd32() % 1000) + 1);
		recs[i].group = (short)(rnd32() % 17);
		recs[i].index = i;
		recs[i].weight = i * 0.5;
		snprintf(recs[i].name, sizeof recs[i].name, "r%05d", (int)(rnd32() % 100000));
		snprintf(words[i], sizeof words[i], "%c%c%c%u", 'a' + (int)(rnd32() % 26), 'a' + (int)(rnd32() % 26),
			 'a' + (int)(rnd32() % 26), rnd32() % 1000);
		strs[i] = words[i];
	}

	qsort(ints, N, sizeof ints[0], cmp_int);
	qsort(keys, N, sizeof keys[0], cmp_u64_desc);
	qsort(dbls, N, sizeof dbls[0], cmp_double);
	qsort(strs, N, sizeof strs[0], cmp_str);
	qsort(recs, N, sizeof recs[0], cmp_record);

	int sorted = 1;
	for (int i = 1; i < N; i++) {
		sorted &= ints[i - 1] <= ints[i];
		sorted &= keys[i - 1] >= keys[i];
		sorted &= dbls[i - 1] <= dbls[i];
		sorted &= strcmp(strs[i - 1], strs[i]) <= 0;
		sorted &= recs[i - 1].group < recs[i].group ||
			  (recs[i - 1].group == recs[i].group && recs[i - 1].index < recs[i].index);
	}
	CHECK(sorted);
	printf("ints %d..%d median %d checksum %08x\n", ints[0], ints[N - 1], ints[N / 2], fnv1a(FNV_INIT, ints, sizeof ints));
	printf("keys %016llx..%016llx checksum %08x\n", (unsigned long long)keys[0], (unsigned long long)keys[N - 1],
	       fnv1a(FNV_INIT, keys, sizeof keys));
	printf("doubles %.6g..%.6g checksum %08x\n", dbls[0], dbls[N - 1], fnv1a(FNV_INIT, dbls, sizeof dbls));
	uint32_t h = FNV_INIT;
	for (int i = 0; i < N; i++)
		h = fnv1a(h, strs[i], strlen(strs[i]) + 1);
	printf("strings %s..%s checksum %08x\n", strs[0], strs[N - 1], h);
	printf("records first %s/%d/%d last %s/%d/%d checksum %08x\n", recs[0].name, recs[0].group, recs[0].index,
	       recs[N - 1].name, recs[N - 1].group, recs[N - 1].index, fnv1a(FNV_INIT, recs, sizeof recs));

	int found = 0, missing = 0;
	for (int v = -510; v <= 510; v += 3) {
		int *p = bsearch(&v, ints, N, sizeof ints[0], cmp_int);
		if (p) {
			CHECK(*p == v);
			found++;
		} else {
			missing++;
		}
	}
	printf("bsearch found %d missing %d\n", found, missing);

	int table[16];
	size_t n = 0;
	for (int i = 0; i < 40; i++) {
		int v = ints[(i * 997) % N] / 100;
		lsearch(&v, table, &n, sizeof table[0], cmp_int);
	}
	int probe = 3;
	int *at = lfind(&probe, table, &n, sizeof table[0], cmp_int);
	printf("lsearch kept %zu distinct values, lfind(3) at %ld\n", n, at ? (long)(at - table) : -1L);
	return checks_report();
}

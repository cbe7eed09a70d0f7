/* primes: the example guest `synod run` runs when given no program.
 * It sieves the primes below a limit (argv[1], default 2000000), prints the
 * count, the last few primes and a checksum, so that a run shows the
 * emulated machine computing something checkable.
 *
 * Rebuild: hppa-linux-gnu-gcc -O2 -static -s -o primes primes.c
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
	long limit = argc > 1 ? atol(argv[1]) : 2000000;
	if (limit < 2 || limit > 100000000) {
		fprintf(stderr, "primes: limit must be between 2 and 100000000\n");
		return 2;
	}
	unsigned char *composite = calloc(limit, 1);
	if (composite == NULL) {
		perror("primes: calloc");
		return 1;
	}
	for (long i = 2; i * i < limit; i++)
		if (!composite[i])
			for (long j = i * i; j < limit; j += i)
				composite[j] = 1;

	long count = 0;
	unsigned long long sum = 0;
	unsigned int hash = 2166136261u; /* FNV-1a over the primes, in order */
	long last[5] = {0};
	for (long i = 2; i < limit; i++) {
		if (composite[i])
			continue;
		count++;
		sum += i;
		for (int b = 0; b < 4; b++) {
			hash ^= (unsigned char)(i >> (8 * b));
			hash *= 16777619u;
		}
		memmove(last, last + 1, sizeof last - sizeof last[0]);
		last[4] = i;
	}
	printf("primes below %ld: %ld\n", limit, count);
	printf("largest:");
	for (int k = 0; k < 5; k++)
		if (last[k])
			printf(" %ld", last[k]);
	printf("\nsum: %llu\nchecksum: %08x\n", sum, hash);
	free(composite);
	return 0;
}

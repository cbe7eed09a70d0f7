/* bigheap: the bundled key-value server (../kvd/kvd.c) with a large heap,
 * for the tests and benchmarks of machine snapshots larger than a raft
 * message.
 *
 *   bigheap MiB [kvd args...]
 *
 * It allocates MiB mebibytes and writes into every page of them (a
 * snapshot stores a page never written as nothing), then serves exactly as
 * kvd does.
 *
 * Rebuild: hppa-linux-gnu-gcc -O2 -Wall -Wextra -static -s -o bigheap bigheap.c
 */
#define main kvd_main
#include "../kvd/kvd.c"
#undef main

/* ballast keeps the heap reachable, as a server's caches would. */
static volatile uint32_t *ballast;

int main(int argc, char **argv) {
	if (argc < 2) {
		fprintf(stderr, "usage: bigheap MiB [kvd args...]\n");
		return 2;
	}
	size_t size = strtoul(argv[1], NULL, 10) << 20;
	ballast = malloc(size);
	if (!ballast) {
		perror("bigheap: malloc");
		return 1;
	}
	/* One word every 256 bytes: every page differs from zero and from
	 * every other page, at a sixty-fourth of the cost of filling them. */
	uint32_t x = 2463534242u;
	for (size_t i = 0; i < size / 4; i += 64) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		ballast[i] = x;
	}
	printf("bigheap: %zu MiB written\n", size >> 20);
	fflush(stdout);
	argv[1] = argv[0];
	return kvd_main(argc - 1, argv + 1);
}

/* sleeps: sleeps 100 ms five times and prints how long each sleep took by
 * the guest's monotonic clock. Replicated, guest time comes from the
 * leader's seals, so this shows that sleepers wake on time.
 *
 * Rebuild (from this directory):
 *   hppa-linux-gnu-gcc -O2 -static -s -o sleeps sleeps.c
 */
#include <stdio.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

int main(void)
{
	for (int i = 0; i < 5; i++) {
		double start = now();
		usleep(100000);
		printf("sleep %d took %.3f s\n", i, now() - start);
	}
	return 0;
}

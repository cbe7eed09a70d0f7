/* sleeps: sleeps N times for MS milliseconds (default 5 times 100 ms) and
 * prints how long each sleep took by the guest's monotonic clock.
 * Replicated, guest time comes from the leader's seals, so this shows that
 * sleepers wake on time; a long run shows that console output survives the
 * failure of the node printing it.
 *
 *   sleeps [N [MS]]
 *
 * Rebuild (from this directory):
 *   hppa-linux-gnu-gcc -O2 -static -s -o sleeps sleeps.c
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 5;
	int ms = argc > 2 ? atoi(argv[2]) : 100;
	for (int i = 0; i < n; i++) {
		double start = now();
		usleep(ms * 1000);
		printf("sleep %d took %.3f s\n", i, now() - start);
		fflush(stdout);
	}
	return 0;
}

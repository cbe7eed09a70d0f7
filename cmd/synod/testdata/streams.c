/* streams: writes to both console streams, for the test that synod up
 * shows the guest's stderr apart from its stdout. One stderr line is
 * written in two parts, and the last has no newline.
 *
 * Rebuild (from this directory):
 *   hppa-linux-gnu-gcc -O2 -Wall -Wextra -static -s -o streams streams.c
 */
#include <stdio.h>

int main(void) {
	printf("out: first\n");
	fflush(stdout);
	fprintf(stderr, "err: first\n");
	printf("out: second\n");
	fflush(stdout);
	fprintf(stderr, "err: written ");
	fprintf(stderr, "in two parts\n");
	fprintf(stderr, "err: no newline");
	return 0;
}

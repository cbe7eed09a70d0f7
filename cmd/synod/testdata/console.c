/* console: echoes its stdin line by line, for the console tests.
 * Prints "got: <line>" per line and, at end of input, "eof after N bytes";
 * on stderr, "console: N lines read" at the end.
 *
 * Rebuild: hppa-linux-gnu-gcc -O2 -Wall -Wextra -static -s -o console console.c
 */
#include <stdio.h>
#include <string.h>

int main(void) {
	char line[4096];
	long total = 0, lines = 0;
	while (fgets(line, sizeof line, stdin) != NULL) {
		total += strlen(line);
		lines++;
		printf("got: %s", line);
		fflush(stdout);
	}
	printf("eof after %ld bytes\n", total);
	fflush(stdout);
	fprintf(stderr, "console: %ld lines read\n", lines);
	return 0;
}

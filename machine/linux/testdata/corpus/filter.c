/* filter: stdin to stdout. Numbers each line, rot13s its letters and
 * marks its end, however long the line (getline) and whatever bytes it
 * holds; then prints the counts of lines, words and bytes and a checksum
 * of the input. A last line without a newline and empty input both work.
 * With the argument "raw", it copies stdin with read(2) and write(2) in
 * odd-sized chunks instead.
 *
 * Rebuild: ./build.sh
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "corpus.h"

static int raw_copy(void) {
	char buf[1000];
	size_t total = 0;
	for (;;) {
		ssize_t r = read(0, buf, 333);
		if (r < 0) {
			perror("filter: read");
			return 1;
		}
		if (r == 0)
			break;
		for (ssize_t off = 0; off < r;) {
			ssize_t w = write(1, buf + off, (size_t)(r - off));
			if (w <= 0) {
				perror("filter: write");
				return 1;
			}
			off += w;
		}
		total += (size_t)r;
	}
	fprintf(stderr, "filter: copied %zu bytes\n", total);
	return 0;
}

static char rot13(char c) {
	if (c >= 'a' && c <= 'z')
		return (char)('a' + (c - 'a' + 13) % 26);
	if (c >= 'A' && c <= 'Z')
		return (char)('A' + (c - 'A' + 13) % 26);
	return c;
}

int main(int argc, char **argv) {
	if (argc > 1 && strcmp(argv[1], "raw") == 0)
		return raw_copy();
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	long lines = 0, words = 0, bytes = 0, longest = 0;
	uint32_t h = FNV_INIT;
	while ((n = getline(&line, &cap, stdin)) > 0) {
		lines++;
		bytes += n;
		h = fnv1a(h, line, (size_t)n);
		if (n > longest)
			longest = n;
		int in_word = 0, newline = line[n - 1] == '\n';
		for (ssize_t i = 0; i < n; i++) {
			int space = isspace((unsigned char)line[i]);
			words += !space && !in_word;
			in_word = !space;
			line[i] = rot13(line[i]);
		}
		if (newline)
			line[--n] = 0;
		printf("%4ld %s%s\n", lines, n > 60 ? "(long) " : "", n > 60 ? line + n - 20 : line);
		if (!newline)
			printf("     (no newline at the end)\n");
	}
	free(line);
	printf("lines %ld words %ld bytes %ld longest %ld checksum %08x\n", lines, words, bytes, longest, h);
	return 0;
}

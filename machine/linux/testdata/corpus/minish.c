/* minish: the smallest /bin/sh that system() and popen() need, so that
 * the corpus can run them with a shell built for the guest (the manifest's
 * root=sysroot makes it the guest's /bin/sh). It takes "-c COMMAND" only:
 * COMMAND's words, split at spaces, are a program and its arguments,
 * exec'd as they are; "exit N" exits with N.
 *
 * Rebuild: ./build.sh minish
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_WORDS 64

int main(int argc, char **argv) {
	if (argc != 3 || strcmp(argv[1], "-c") != 0) {
		fprintf(stderr, "minish: usage: minish -c COMMAND\n");
		return 2;
	}
	char *words[MAX_WORDS + 1];
	int n = 0;
	for (char *w = strtok(argv[2], " "); w && n < MAX_WORDS; w = strtok(NULL, " "))
		words[n++] = w;
	words[n] = NULL;
	if (n == 0)
		return 0;
	if (strcmp(words[0], "exit") == 0)
		return n > 1 ? atoi(words[1]) : 0;
	execv(words[0], words);
	fprintf(stderr, "minish: cannot run %s\n", words[0]);
	return 127;
}

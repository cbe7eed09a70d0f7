/* bigio: large transfers on a disk, for the test that a Byzantine
 * cluster's guest reads more than one engine request holds at once
 * (cmd/synod TestByzantineGuestReadsMoreThanARequestAtOnce).
 *
 *   bigio PATH SIZE
 *
 * Writes SIZE bytes of a pattern at offset 0, reads them back with as few
 * preads as the kernel allows (each asks for all that is left), and
 * prints "bigio: SIZE bytes in N reads, match" or what differed.
 *
 * Rebuild: hppa-linux-gnu-gcc -O2 -Wall -Wextra -static -s -o bigio bigio.c
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int transfer(int fd, int write, char *buf, size_t len, long *calls) {
	for (size_t done = 0; done < len;) {
		ssize_t n = write ? pwrite(fd, buf + done, len - done, done) : pread(fd, buf + done, len - done, done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		done += n;
		(*calls)++;
	}
	return 0;
}

int main(int argc, char **argv) {
	if (argc != 3) {
		fprintf(stderr, "usage: bigio PATH SIZE\n");
		return 2;
	}
	size_t size = strtoul(argv[2], NULL, 10);
	int fd = open(argv[1], O_RDWR);
	char *out = malloc(size), *in = malloc(size);
	if (fd < 0 || !out || !in) {
		fprintf(stderr, "bigio: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	for (size_t i = 0; i < size; i++)
		out[i] = (char)(i * 7 + i / 4096);
	long writes = 0, reads = 0;
	if (transfer(fd, 1, out, size, &writes) < 0 || transfer(fd, 0, in, size, &reads) < 0) {
		fprintf(stderr, "bigio: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	for (size_t i = 0; i < size; i++) {
		if (in[i] != out[i]) {
			printf("bigio: byte %zu differs\n", i);
			return 1;
		}
	}
	printf("bigio: %zu bytes in %ld reads, match\n", size, reads);
	return 0;
}

/* diskbench: 4 KiB writes through one disk path, for the replicated disk
 * benchmark (cmd/synod BenchmarkReplicatedDisk).
 *
 *   diskbench PATH COUNT
 *
 * Writes COUNT blocks of 4 KiB one after the other at offsets 0, 4096,
 * ..., prints "sequential done", then COUNT blocks at pseudo-random block
 * offsets, prints "random done". One write is outstanding at a time, as
 * a synchronous writer has: the time between the lines is COUNT times the
 * latency of one replicated write. Guest time is virtual, so the
 * benchmark times the lines from outside.
 *
 * Rebuild: hppa-linux-gnu-gcc -O2 -Wall -Wextra -static -s -o diskbench diskbench.c
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BLOCK 4096

static int write_block(int fd, const char *buf, off_t off) {
	for (size_t done = 0; done < BLOCK;) {
		ssize_t n = pwrite(fd, buf + done, BLOCK - done, off + done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		done += n;
	}
	return 0;
}

int main(int argc, char **argv) {
	if (argc != 3) {
		fprintf(stderr, "usage: diskbench PATH COUNT\n");
		return 2;
	}
	long count = atol(argv[2]);
	int fd = open(argv[1], O_RDWR);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0) {
		fprintf(stderr, "diskbench: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	long blocks = st.st_size / BLOCK;
	if (blocks < count) {
		fprintf(stderr, "diskbench: %s holds %ld blocks, fewer than %ld\n", argv[1], blocks, count);
		return 1;
	}
	static char buf[BLOCK];
	printf("diskbench: %ld writes of %d bytes\n", count, BLOCK);
	fflush(stdout);
	for (long i = 0; i < count; i++) {
		memset(buf, 'a' + i % 26, sizeof buf);
		if (write_block(fd, buf, (off_t)i * BLOCK) < 0) {
			fprintf(stderr, "diskbench: block %ld: %s\n", i, strerror(errno));
			return 1;
		}
	}
	printf("sequential done\n");
	fflush(stdout);
	unsigned long x = 88172645463325252UL & 0xffffffff;
	for (long i = 0; i < count; i++) {
		x = x * 1103515245 + 12345;
		if (write_block(fd, buf, (off_t)((x >> 8) % blocks) * BLOCK) < 0) {
			fprintf(stderr, "diskbench: random write %ld: %s\n", i, strerror(errno));
			return 1;
		}
	}
	printf("random done\n");
	return 0;
}

/* files: the file system through glibc. Creates a scratch file (in
 * $TMPDIR or /tmp, named after the pid), writes it with write, pwrite and
 * stdio, seeks, reads back with read, pread and fgets, stats it, renames
 * and deletes it; a pipe and dup2; readlink of /proc/self/exe; opening
 * with O_EXCL an existing file fails with EEXIST. Prints what it reads and
 * sizes, never paths or times.
 *
 * Rebuild: ./build.sh
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "corpus.h"

int main(void) {
	umask(022);
	const char *dir = getenv("TMPDIR");
	char path[PATH_MAX], moved[PATH_MAX + 8];
	snprintf(path, sizeof path, "%s/synod-corpus-files-%d", dir && *dir ? dir : "/tmp", (int)getpid());
	snprintf(moved, sizeof moved, "%s.moved", path);

	int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_TRUNC, 0640);
	if (fd < 0) {
		printf("create: %s\n", strerror(errno));
		return 1;
	}
	CHECK(write(fd, "hello, file\n", 12) == 12);
	CHECK(pwrite(fd, "HELLO", 5, 0) == 5);
	CHECK(lseek(fd, 0, SEEK_END) == 12);
	CHECK(lseek(fd, 100, SEEK_SET) == 100);
	CHECK(write(fd, "after a hole\n", 13) == 13);
	struct stat st;
	CHECK(fstat(fd, &st) == 0);
	printf("size %lld, regular %d, mode %o\n", (long long)st.st_size, S_ISREG(st.st_mode), st.st_mode & 0777);

	char buf[200];
	CHECK(lseek(fd, 0, SEEK_SET) == 0);
	ssize_t n = read(fd, buf, sizeof buf);
	int zeros = 0;
	for (ssize_t i = 12; i < 100 && i < n; i++)
		zeros += buf[i] == 0;
	printf("read %zd bytes: %.12s| hole of %d zero bytes | %.13s", n, buf, zeros, buf + 100);
	CHECK(pread(fd, buf, 5, 7) == 5);
	printf("pread: %.4s\n", buf);
	close(fd);

	FILE *f = fopen(path, "a+");
	fprintf(f, "appended by stdio %d\n", 42);
	rewind(f);
	int lines = 0;
	while (fgets(buf, sizeof buf, f))
		lines++;
	fclose(f);
	printf("lines via stdio: %d\n", lines);

	errno = 0;
	CHECK(open(path, O_RDWR | O_CREAT | O_EXCL, 0600) == -1 && errno == EEXIST);
	CHECK(rename(path, moved) == 0);
	CHECK(access(path, F_OK) == -1 && errno == ENOENT);
	CHECK(stat(moved, &st) == 0 && st.st_size == 134);
	CHECK(unlink(moved) == 0);
	CHECK(stat(moved, &st) == -1 && errno == ENOENT);

	int p[2];
	CHECK(pipe(p) == 0);
	fflush(stdout);
	int saved = dup(1);
	dup2(p[1], 1);
	printf("through the pipe\n");
	fflush(stdout);
	dup2(saved, 1);
	close(p[1]);
	n = read(p[0], buf, sizeof buf - 1);
	buf[n > 0 ? n : 0] = 0;
	close(p[0]);
	printf("pipe carried: %s", buf);

	char exe[PATH_MAX];
	ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
	exe[len > 0 ? len : 0] = 0;
	const char *base = strrchr(exe, '/');
	printf("/proc/self/exe is absolute %d, ends in /files %d\n", exe[0] == '/', base && strcmp(base, "/files") == 0);
	return checks_report();
}

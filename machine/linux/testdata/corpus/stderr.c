/* stderr: output on both streams. stdout is buffered and stderr is not,
 * so the bytes on each stream must come out in program order while the
 * two interleave differently; uses fprintf, fputs, perror, warnx, a raw
 * write(2) on fd 2, writev, and stdout switched to unbuffered part way.
 * Exits with status 3 after an error message, as a failing tool does.
 *
 * Rebuild: ./build.sh
 */
#include <err.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

int main(void) {
	printf("stdout line 1 (buffered)\n");
	fprintf(stderr, "stderr line 1\n");
	fputs("stderr line 2 via fputs\n", stderr);
	printf("stdout line 2\n");
	errno = ENOENT;
	perror("stderr line 3 from perror");
	warnx("stderr line 4 from warnx, with program name");
	write(2, "stderr line 5 via write(2)\n", 27);
	struct iovec iov[3] = {{"stderr ", 7}, {"line 6 ", 7}, {"via writev\n", 11}};
	writev(2, iov, 3);
	iov[0].iov_base = "stdout ";
	writev(1, iov, 3);
	fflush(stdout);
	setvbuf(stdout, NULL, _IONBF, 0);
	for (int i = 0; i < 3; i++) {
		printf("stdout unbuffered %d\n", i);
		fprintf(stderr, "stderr interleaved %d\n", i);
	}
	fprintf(stderr, "error: something failed: %s\n", strerror(EACCES));
	return 3;
}

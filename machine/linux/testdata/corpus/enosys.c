/* enosys: system calls that fail. Numbers no kernel implements, called
 * through syscall(), return -1 with errno ENOSYS (and the program goes
 * on); calls with bad arguments return the errno Linux gives: EBADF,
 * ENOENT, EFAULT, EINVAL, ESRCH, ENOTSOCK.
 *
 * synod logs one diagnostic line per unknown system call on stderr, so
 * the tests compare stdout and the exit status only.
 *
 * Rebuild: ./build.sh
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

static void show(const char *what, long r) {
	printf("%-34s -> %ld, errno %d (%s)\n", what, r, r < 0 ? errno : 0, r < 0 ? strerrorname_np(errno) : "-");
	errno = 0;
}

int main(int argc, char **argv) {
	(void)argc;
	/* Hidden from the compiler, which would warn about the bad pointer. */
	void *volatile bad_pointer = (void *)8;
	show("syscall(1000)", syscall(1000));
	show("syscall(9999, 1, 2, 3)", syscall(9999, 1, 2, 3));
	show("syscall(-1)", syscall(-1));
	show("syscall(1000) again", syscall(1000));
	show("close(-1)", close(-1));
	show("read(987, ...)", read(987, NULL, 0));
	show("open(\"/nonexistent/x\")", open("/nonexistent/x", O_RDONLY));
	show("write(1, bad pointer, 8)", write(1, bad_pointer, 8));
	show("mmap(len 0)", (long)(mmap(NULL, 0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) == MAP_FAILED ? -1 : 0));
	show("kill(getpid(), 999)", kill(getpid(), 999));
	show("kill(0x7ffffff0, SIGUSR1)", kill(0x7ffffff0, SIGUSR1));
	show("listen(0)", listen(0, 1));
	int self = open(argv[0], O_RDONLY); /* a regular file, where whence is checked */
	show("lseek(self, 0, 99)", lseek(self, 0, 99));
	close(self);
	printf("still running after every failure\n");
	return 0;
}

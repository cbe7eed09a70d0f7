/* procs: processes. fork chains that pass exit codes up, execve of
 * another corpus program and of a "#!" script (interp.sh, whose
 * interpreter is this program), wait4/waitpid/waitid with WNOHANG and for
 * killed children, SIGCHLD, stopping and continuing children (WUNTRACED,
 * WCONTINUED), process groups and sessions with kill to a
 * group, copy-on-write (parent and child write the same pages), MAP_SHARED
 * memory that children change for their parent, vfork, a
 * pipeline of three processes (the middle one exec'd ./filter), a file
 * offset shared across fork and close-on-exec. Every process prints only
 * while the others wait, so the output does not depend on scheduling.
 * Modes for the processes it execs: "fdcheck FD..." reports which
 * descriptors are open; "script-interp ARGS..." prints its arguments.
 *
 * Rebuild: ./build.sh procs
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "corpus.h"

static pid_t fork_flushed(void) {
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0) {
		perror("fork");
		exit(1);
	}
	return pid;
}

static void describe(const char *what, int status) {
	if (WIFEXITED(status))
		printf("%s: exited %d\n", what, WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		printf("%s: killed by signal %d%s\n", what, WTERMSIG(status), WCOREDUMP(status) ? " (core)" : "");
	else
		printf("%s: status %#x\n", what, status);
}

static int wait_for(pid_t pid) {
	int status;
	if (waitpid(pid, &status, 0) != pid) {
		perror("waitpid");
		exit(1);
	}
	return status;
}

/* chain forks depth descendants, each exiting with its child's code + 1. */
static int chain(int depth) {
	if (depth == 0)
		return 10;
	pid_t pid = fork_flushed();
	if (pid == 0)
		_exit(chain(depth - 1));
	int status = wait_for(pid);
	return WEXITSTATUS(status) + 1;
}

static void test_chain_and_exec(void) {
	printf("chain of 5: %d\n", chain(5));
	CHECK(getppid() != getpid());

	pid_t pid = fork_flushed();
	if (pid == 0) {
		execl("./argv", "./argv", "exit", "5", (char *)NULL);
		perror("execl");
		_exit(99);
	}
	describe("exec ./argv exit 5", wait_for(pid));

	pid = fork_flushed();
	if (pid == 0) {
		execl("./interp.sh", "./interp.sh", "a", "b c", (char *)NULL);
		perror("execl interp.sh");
		_exit(99);
	}
	describe("exec ./interp.sh", wait_for(pid));

	errno = 0;
	CHECK(execl("./no-such-program", "x", (char *)NULL) == -1 && errno == ENOENT);
	CHECK(execl("./corpus.h", "x", (char *)NULL) == -1 && errno == EACCES);
	CHECK(execl(".", "x", (char *)NULL) == -1 && errno == EACCES);
	CHECK(wait(NULL) == -1 && errno == ECHILD);
}

static volatile sig_atomic_t sigchld_count;
static void on_sigchld(int sig) { sigchld_count++; }

static void test_wait(void) {
	int fds[2];
	CHECK(pipe(fds) == 0);
	pid_t pid = fork_flushed();
	if (pid == 0) {
		char c;
		close(fds[1]);
		_exit(read(fds[0], &c, 1) == 0 ? 7 : 8); /* end of file once the parent closes */
	}
	close(fds[0]);
	int status;
	CHECK(waitpid(pid, &status, WNOHANG) == 0);
	close(fds[1]);
	describe("child reading a closed pipe", wait_for(pid));

	pid = fork_flushed();
	if (pid == 0) {
		for (;;)
			pause();
	}
	CHECK(kill(pid, SIGTERM) == 0);
	describe("child sent SIGTERM", wait_for(pid));

	pid = fork_flushed();
	if (pid == 0)
		abort();
	describe("child that aborts", wait_for(pid));

	pid = fork_flushed();
	if (pid == 0)
		_exit(42);
	siginfo_t info;
	memset(&info, 0, sizeof info);
	CHECK(waitid(P_PID, pid, &info, WEXITED | WNOWAIT) == 0);
	CHECK(info.si_signo == SIGCHLD && info.si_code == CLD_EXITED && info.si_status == 42 && info.si_pid == pid);
	memset(&info, 0xff, sizeof info);
	CHECK(waitid(P_ALL, 0, &info, WEXITED) == 0 && info.si_pid == pid);
	CHECK(waitid(P_ALL, 0, &info, WEXITED | WNOHANG) == -1 && errno == ECHILD);

	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_sigchld;
	sa.sa_flags = SA_RESTART;
	CHECK(sigaction(SIGCHLD, &sa, NULL) == 0);
	for (int i = 0; i < 3; i++) {
		pid = fork_flushed();
		if (pid == 0)
			_exit(i);
		wait_for(pid);
	}
	printf("SIGCHLD handler ran %d times for 3 children waited for one by one\n", (int)sigchld_count);
	sa.sa_handler = SIG_IGN;
	sa.sa_flags = 0;
	CHECK(sigaction(SIGCHLD, &sa, NULL) == 0);
	pid = fork_flushed();
	if (pid == 0)
		_exit(0);
	CHECK(waitpid(pid, &status, 0) == -1 && errno == ECHILD); /* reaped at its end */
	sa.sa_handler = SIG_DFL;
	CHECK(sigaction(SIGCHLD, &sa, NULL) == 0);
}

static void test_job_control(void) {
	/* The continued child exits only once told to: had it exited first,
	 * the wait for its continuation would reap it instead (as Linux
	 * does, seen under qemu-hppa on a busy host). */
	int go[2];
	CHECK(pipe(go) == 0);
	pid_t pid = fork_flushed();
	if (pid == 0) {
		char c;
		close(go[1]);
		raise(SIGSTOP);
		CHECK(read(go[0], &c, 1) == 0);
		_exit(5);
	}
	close(go[0]);
	int status;
	CHECK(waitpid(pid, &status, WUNTRACED) == pid);
	printf("stopped child: stopped %d, by signal %d\n", WIFSTOPPED(status), WSTOPSIG(status));
	CHECK(waitpid(pid, &status, WUNTRACED | WNOHANG) == 0); /* reported once */
	CHECK(kill(pid, SIGCONT) == 0);
	CHECK(waitpid(pid, &status, WCONTINUED) == pid);
	printf("continued child: continued %d\n", WIFCONTINUED(status));
	close(go[1]);
	describe("continued child", wait_for(pid));

	/* In a process group of its own, which this process, in another group
	 * of the session, keeps from being orphaned: Linux discards SIGTSTP
	 * sent to an orphaned group, and the group this program was started
	 * in may be one. */
	pid = fork_flushed();
	if (pid == 0) {
		setpgid(0, 0);
		for (;;)
			pause();
	}
	CHECK(setpgid(pid, pid) == 0 || errno == EACCES);
	CHECK(kill(pid, SIGTSTP) == 0);
	siginfo_t info;
	memset(&info, 0, sizeof info);
	CHECK(waitid(P_PID, pid, &info, WSTOPPED) == 0);
	CHECK(info.si_code == CLD_STOPPED && info.si_status == SIGTSTP);
	CHECK(kill(pid, SIGKILL) == 0);
	describe("stopped child sent SIGKILL", wait_for(pid));
}

static void test_groups(void) {
	CHECK(getpgrp() == getpgid(0));
	pid_t first = 0;
	for (int i = 0; i < 2; i++) {
		pid_t pid = fork_flushed();
		if (pid == 0) {
			setpgid(0, first ? first : 0);
			for (;;)
				pause();
		}
		if (!first)
			first = pid;
		CHECK(setpgid(pid, first) == 0 || errno == EACCES);
	}
	CHECK(getpgid(first) == first);
	CHECK(kill(-first, SIGUSR1) == 0);
	int status;
	for (int i = 0; i < 2; i++) {
		CHECK(waitpid(-first, &status, 0) > 0);
		describe("group member", status);
	}
	CHECK(kill(-first, 0) == -1 && errno == ESRCH);

	pid_t pid = fork_flushed();
	if (pid == 0) {
		pid_t sid = setsid();
		int ok = sid == getpid() && getsid(0) == getpid() && getpgrp() == getpid() && setsid() == -1 && errno == EPERM;
		_exit(ok ? 0 : 1);
	}
	describe("setsid in a child", wait_for(pid));
}

#define COW_PAGES 64
static char cow[COW_PAGES * 4096];

static int all(const char *p, size_t n, char c) {
	for (size_t i = 0; i < n; i++)
		if (p[i] != c)
			return 0;
	return 1;
}

static void test_cow(void) {
	memset(cow, 'p', sizeof cow);
	pid_t pid = fork_flushed();
	if (pid == 0) {
		int saw = all(cow, sizeof cow, 'p');
		memset(cow, 'c', sizeof cow);
		_exit(saw && all(cow, sizeof cow, 'c') ? 0 : 1);
	}
	memset(cow, 'P', sizeof cow);
	describe("child writing the pages its parent writes", wait_for(pid));
	CHECK(all(cow, sizeof cow, 'P'));
}

static void test_shared_memory(void) {
	enum { CHILDREN = 3, ADDS = 1000 };
	struct shared {
		int counter;
		char note[32];
	} *sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	int *private = mmap(NULL, sizeof(int), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(sh != MAP_FAILED && private != MAP_FAILED);
	*private = 1;
	pid_t kids[CHILDREN];
	for (int i = 0; i < CHILDREN; i++) {
		kids[i] = fork_flushed();
		if (kids[i] == 0) {
			for (int j = 0; j < ADDS; j++)
				__atomic_fetch_add(&sh->counter, 1, __ATOMIC_SEQ_CST);
			*private = 2;
			if (i == 0)
				strcpy(sh->note, "written by a child");
			_exit(0);
		}
	}
	for (int i = 0; i < CHILDREN; i++)
		wait_for(kids[i]);
	printf("MAP_SHARED counter after %d children added %d each: %d; note: %s\n", CHILDREN, ADDS, sh->counter, sh->note);
	printf("MAP_PRIVATE value the children changed: %d\n", *private);
	munmap(sh, sizeof *sh);
	munmap(private, sizeof(int));
}

static void test_vfork(void) {
	static const char child_says[] = "vfork: the child runs while its parent waits\n";
	fflush(stdout);
	pid_t pid = vfork();
	if (pid == 0) {
		write(1, child_says, sizeof child_says - 1);
		_exit(3);
	}
	describe("vfork child", wait_for(pid));
	fflush(stdout);
	pid = vfork();
	if (pid == 0) {
		execl("./argv", "./argv", "exit", "4", (char *)NULL);
		_exit(127);
	}
	describe("vfork and exec", wait_for(pid));
}

static void test_pipeline(void) {
	int in[2], out[2];
	CHECK(pipe(in) == 0 && pipe(out) == 0);
	pid_t producer = fork_flushed();
	if (producer == 0) {
		close(in[0]);
		close(out[0]);
		close(out[1]);
		FILE *f = fdopen(in[1], "w");
		for (int i = 0; i < 5000; i++)
			fprintf(f, "line %d of the producer, with Some Letters\n", i);
		fclose(f);
		_exit(0);
	}
	pid_t filter = fork_flushed();
	if (filter == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		close(in[0]);
		close(in[1]);
		close(out[0]);
		close(out[1]);
		execl("./filter", "./filter", (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(in[1]);
	close(out[1]);
	char buf[4096], last[200] = "";
	size_t total = 0, lastlen = 0;
	uint32_t sum = FNV_INIT;
	ssize_t n;
	while ((n = read(out[0], buf, sizeof buf)) > 0) {
		sum = fnv1a(sum, buf, (size_t)n);
		total += (size_t)n;
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] == '\n') {
				last[lastlen] = 0;
				lastlen = 0;
			} else if (lastlen < sizeof last - 1) {
				last[lastlen++] = buf[i];
			}
		}
	}
	close(out[0]);
	describe("producer", wait_for(producer));
	describe("filter", wait_for(filter));
	printf("pipeline: %zu bytes, checksum %08x, last line: %s\n", total, sum, last);
}

static void test_files(void) {
	const char *dir = getenv("TMPDIR");
	char path[512];
	snprintf(path, sizeof path, "%s/procs-shared", dir ? dir : "/tmp");
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	CHECK(fd >= 0);
	pid_t pid = fork_flushed();
	if (pid == 0) {
		_exit(write(fd, "child\n", 6) == 6 ? 0 : 1);
	}
	wait_for(pid);
	CHECK(write(fd, "parent\n", 7) == 7);
	char buf[32] = "";
	CHECK(pread(fd, buf, sizeof buf - 1, 0) == 13);
	printf("one offset across fork: %s", buf);

	CHECK(dup2(fd, 20) == 20 && fcntl(20, F_SETFD, FD_CLOEXEC) == 0);
	CHECK(dup2(fd, 21) == 21);
	pid = fork_flushed();
	if (pid == 0) {
		execl("./procs", "./procs", "fdcheck", "20", "21", (char *)NULL);
		_exit(127);
	}
	describe("fdcheck", wait_for(pid));
	close(20);
	close(21);
	close(fd);
	unlink(path);
}

int main(int argc, char **argv) {
	if (argc > 1 && strcmp(argv[1], "fdcheck") == 0) {
		for (int i = 2; i < argc; i++)
			printf("fd %s: %s\n", argv[i], fcntl(atoi(argv[i]), F_GETFD) == -1 ? "closed" : "open");
		return 0;
	}
	if (argc > 1 && strcmp(argv[1], "script-interp") == 0) {
		for (int i = 1; i < argc; i++)
			printf("interpreter argument %d: \"%s\"\n", i, argv[i]);
		return 6;
	}
	test_chain_and_exec();
	test_wait();
	test_job_control();
	test_groups();
	test_cow();
	test_shared_memory();
	test_vfork();
	test_pipeline();
	test_files();
	return checks_report();
}

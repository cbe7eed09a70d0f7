/* spawn: starting programs the ways libc does. system() (through the
 * guest's /bin/sh, minish, so run it with root=sysroot), popen() reading
 * a program's output and writing its input, and posix_spawn with file
 * actions (open, dup2, close) and a process group of its own. (Not a
 * program that does not exist: posix_spawn then fails with ENOENT, as
 * under synod, but qemu-hppa runs its CLONE_VM|CLONE_VFORK clone as a
 * fork, so the child's error never reaches the parent and it returns 0.)
 * Programs run are other corpus binaries; the
 * parent prints only while no child runs.
 * Mode "pgcheck" reports whether it leads its own process group.
 *
 * Rebuild: ./build.sh spawn
 */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "corpus.h"

extern char **environ;

static void describe(const char *what, int status) {
	if (status == -1)
		printf("%s: failed: %s\n", what, strerror(errno));
	else if (WIFEXITED(status))
		printf("%s: exited %d\n", what, WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		printf("%s: killed by signal %d\n", what, WTERMSIG(status));
}

static int wait_for(pid_t pid) {
	int status;
	return waitpid(pid, &status, 0) == pid ? status : -1;
}

static void test_system(void) {
	fflush(stdout);
	describe("system ./argv exit 3", system("./argv exit 3"));
	describe("system exit 7", system("exit 7"));
	fflush(stdout);
	describe("system ./no-such-program", system("./no-such-program"));
	CHECK(system(NULL) != 0); /* a shell is there */
}

static void test_popen(void) {
	fflush(stdout);
	FILE *f = popen("./argv return 9 from popen", "r");
	CHECK(f != NULL);
	char line[256], first[256] = "";
	int lines = 0;
	uint32_t sum = FNV_INIT;
	while (fgets(line, sizeof line, f)) {
		if (lines++ == 0)
			snprintf(first, sizeof first, "%s", line);
		sum = fnv1a(sum, line, strlen(line));
	}
	describe("popen r ./argv", pclose(f));
	printf("popen r: %d lines, checksum %08x, first: %s", lines, sum, first);

	fflush(stdout);
	f = popen("./filter", "w");
	CHECK(f != NULL);
	for (int i = 0; i < 300; i++)
		fprintf(f, "popen line %d\n", i);
	describe("popen w ./filter", pclose(f));
}

static void test_posix_spawn(void) {
	const char *dir = getenv("TMPDIR");
	char path[512];
	snprintf(path, sizeof path, "%s/spawn-out", dir ? dir : "/tmp");

	posix_spawn_file_actions_t fa;
	CHECK(posix_spawn_file_actions_init(&fa) == 0);
	CHECK(posix_spawn_file_actions_addopen(&fa, 1, path, O_WRONLY | O_CREAT | O_TRUNC, 0600) == 0);
	CHECK(posix_spawn_file_actions_adddup2(&fa, 1, 2) == 0);
	char *args[] = {"./argv", "exit", "2", NULL};
	pid_t pid;
	fflush(stdout);
	CHECK(posix_spawn(&pid, "./argv", &fa, NULL, args, environ) == 0);
	describe("posix_spawn ./argv to a file", wait_for(pid));
	posix_spawn_file_actions_destroy(&fa);
	char buf[4096];
	int fd = open(path, O_RDONLY);
	ssize_t n = read(fd, buf, sizeof buf);
	close(fd);
	unlink(path);
	printf("its output: %zd bytes, checksum %08x\n", n, fnv1a(FNV_INIT, buf, n > 0 ? (size_t)n : 0));

	int p[2];
	CHECK(pipe(p) == 0);
	CHECK(posix_spawn_file_actions_init(&fa) == 0);
	CHECK(posix_spawn_file_actions_adddup2(&fa, p[1], 1) == 0);
	CHECK(posix_spawn_file_actions_addclose(&fa, p[0]) == 0);
	CHECK(posix_spawn_file_actions_addclose(&fa, p[1]) == 0);
	char *pg[] = {"./spawn", "pgcheck", NULL};
	posix_spawnattr_t attr;
	CHECK(posix_spawnattr_init(&attr) == 0);
	CHECK(posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP) == 0);
	CHECK(posix_spawnattr_setpgroup(&attr, 0) == 0);
	CHECK(posix_spawn(&pid, "./spawn", &fa, &attr, pg, environ) == 0);
	close(p[1]);
	n = read(p[0], buf, sizeof buf - 1);
	buf[n > 0 ? n : 0] = 0;
	close(p[0]);
	describe("posix_spawn ./spawn pgcheck into a pipe", wait_for(pid));
	printf("it said: %s", buf);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
}

int main(int argc, char **argv) {
	if (argc > 1 && strcmp(argv[1], "pgcheck") == 0) {
		printf("%s\n", getpgrp() == getpid() ? "I lead my process group" : "I am in my parent's group");
		return 0;
	}
	test_system();
	test_popen();
	test_posix_spawn();
	return checks_report();
}

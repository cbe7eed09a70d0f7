/* family: a guest of several processes for the kernel's tests. By default
 * (any first argument but those below) a pipeline of three processes:
 * a child writes the numbers 1..N into a pipe, a second child (this
 * program exec'd from /guest/family as "square") squares them into
 * another pipe, and the parent sums the squares; meanwhile parent and
 * first child write the same copy-on-write pages, and the first child
 * counts what it wrote in MAP_SHARED memory. It prints the sum, the count
 * and how its children ended. With "bomb", it forks until fork fails, then
 * kills and reaps its children and says how many there were. With
 * "cwd", a child changes directory to /etc while its parent waits at /,
 * and each says where it is and reads "hostname" relative to there. With
 * "cputime", a child computes while its parent waits, and the parent
 * compares the CPU times wait4, getrusage and the CPU-time clock report.
 *
 * Rebuild: hppa-linux-gnu-gcc -O2 -static -s -o family family.c
 */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#define N 2000
#define BOMB_MAX 100000

static char pages[16 * 4096];

static int square(void) {
	long v;
	while (scanf("%ld", &v) == 1)
		printf("%ld\n", v * v);
	return 0;
}

static int bomb(void) {
	static pid_t kids[BOMB_MAX];
	int n = 0;
	setpgid(0, 0);
	for (; n < BOMB_MAX; n++) {
		pid_t pid = fork();
		if (pid == 0) {
			for (;;)
				pause();
		}
		if (pid < 0)
			break;
		kids[n] = pid;
	}
	printf("fork failed with %s after %d children\n", errno == EAGAIN ? "EAGAIN" : strerror(errno), n);
	for (int i = 0; i < n; i++)
		kill(kids[i], SIGKILL);
	int reaped = 0;
	while (wait(NULL) > 0)
		reaped++;
	printf("reaped %d\n", reaped);
	return 0;
}

static void where(const char *who) {
	char cwd[256] = "?", line[64] = "";
	if (!getcwd(cwd, sizeof cwd))
		strcpy(cwd, "?");
	FILE *f = fopen("hostname", "r");
	if (f) {
		if (!fgets(line, sizeof line, f))
			line[0] = 0;
		fclose(f);
	}
	printf("%s is in %s, where hostname %s", who, cwd, f ? line : "does not exist\n");
	fflush(stdout);
}

static int cwd(void) {
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		if (chdir("/etc") != 0)
			_exit(1);
		where("child");
		/* The parent runs meanwhile: it must stay where it was. */
		for (int i = 0; i < 3; i++)
			sched_yield();
		where("child");
		_exit(0);
	}
	for (int i = 0; i < 3; i++)
		sched_yield();
	int status;
	waitpid(pid, &status, 0);
	where("parent");
	return WEXITSTATUS(status);
}

static long long usecs(struct timeval tv) { return tv.tv_sec * 1000000LL + tv.tv_usec; }

static int cputime(void) {
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		volatile unsigned long x = 0;
		for (unsigned long i = 0; i < 3000000; i++)
			x += i;
		_exit(0);
	}
	int status;
	struct rusage child, children, self;
	wait4(pid, &status, 0, &child);
	getrusage(RUSAGE_CHILDREN, &children);
	getrusage(RUSAGE_SELF, &self);
	struct timespec clock;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &clock);
	long long clock_us = clock.tv_sec * 1000000LL + clock.tv_nsec / 1000;
	printf("the child's time is counted: %s\n", usecs(child.ru_utime) > 0 ? "yes" : "no");
	printf("RUSAGE_CHILDREN is what wait4 said: %s\n", usecs(children.ru_utime) == usecs(child.ru_utime) ? "yes" : "no");
	printf("the parent's own time is less: %s\n", usecs(self.ru_utime) < usecs(child.ru_utime) ? "yes" : "no");
	long long apart = clock_us - usecs(self.ru_utime);
	printf("the CPU-time clock agrees with RUSAGE_SELF: %s\n", apart >= 0 && apart < 1000 ? "yes" : "no");
	return 0;
}

static void check_pages(char c, const char *who) {
	for (size_t i = 0; i < sizeof pages; i++)
		if (pages[i] != c) {
			printf("%s: page byte %zu is %c, not %c\n", who, i, pages[i], c);
			return;
		}
}

int main(int argc, char **argv) {
	if (argc > 1 && strcmp(argv[1], "square") == 0)
		return square();
	if (argc > 1 && strcmp(argv[1], "bomb") == 0)
		return bomb();
	if (argc > 1 && strcmp(argv[1], "cwd") == 0)
		return cwd();
	if (argc > 1 && strcmp(argv[1], "cputime") == 0)
		return cputime();
	memset(pages, 'a', sizeof pages);
	long *written = mmap(NULL, sizeof *written, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (written == MAP_FAILED)
		return 1;
	int numbers[2], squares[2];
	if (pipe(numbers) || pipe(squares))
		return 1;
	fflush(stdout);
	pid_t producer = fork();
	if (producer == 0) {
		close(numbers[0]);
		close(squares[0]);
		close(squares[1]);
		memset(pages, 'b', sizeof pages);
		FILE *f = fdopen(numbers[1], "w");
		for (int i = 1; i <= N; i++) {
			fprintf(f, "%d\n", i);
			(*written)++;
		}
		fclose(f);
		check_pages('b', "producer");
		_exit(0);
	}
	pid_t squarer = fork();
	if (squarer == 0) {
		dup2(numbers[0], 0);
		dup2(squares[1], 1);
		close(numbers[0]);
		close(numbers[1]);
		close(squares[0]);
		close(squares[1]);
		execl("/guest/family", "family", "square", (char *)NULL);
		_exit(127);
	}
	close(numbers[0]);
	close(numbers[1]);
	close(squares[1]);
	memset(pages, 'c', sizeof pages);
	FILE *f = fdopen(squares[0], "r");
	long long v, sum = 0;
	while (fscanf(f, "%lld", &v) == 1)
		sum += v;
	fclose(f);
	check_pages('c', "parent");
	int status;
	waitpid(producer, &status, 0);
	printf("producer: exited %d\n", WEXITSTATUS(status));
	waitpid(squarer, &status, 0);
	printf("squarer: exited %d\n", WEXITSTATUS(status));
	printf("sum of squares 1..%d: %lld\n", N, sum);
	printf("the producer counted %ld numbers in shared memory\n", *written);
	return 0;
}

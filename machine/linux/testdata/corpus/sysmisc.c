/* sysmisc: the system interfaces a program touches besides plain I/O.
 * Time conversions on fixed instants (gmtime_r, localtime_r under
 * TZ=UTC and a POSIX DST rule, mktime normalising out-of-range fields,
 * timegm, strftime with every conversion, strptime, asctime, ctime_r);
 * the environment (setenv with and without overwrite, putenv, unsetenv,
 * clearenv); a directory tree in $TMPDIR (mkdir, files of several sizes,
 * readdir64 sorted, stat, rename, unlink, rmdir and their errors), stdio
 * seeks, readv/writev, pread/pwrite, ftruncate and truncate in their
 * 32-bit forms, record locks (F_SETLK, F_GETLK, lockf), flock,
 * posix_fallocate and posix_fadvise; thread names (prctl PR_SET_NAME/PR_GET_NAME and
 * pthread_setname_np, inherited by new threads), PR_SET_DUMPABLE,
 * niceness (nice, getpriority, setpriority), memory locking, the
 * supplementary groups, sleeps a timer interrupts (nanosleep reports
 * the time left, which sleep() returns), and the /proc files about the
 * program (cmdline, comm) and the processor (cpuinfo). Prints what it computes, never paths, times of
 * day or what qemu-hppa answers about itself: the initial thread name,
 * the niceness it started with, its groups.
 *
 * Rebuild: ./build.sh
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

static const time_t instants[] = {0, 1, 86399, 951782400, 1000000000, 1234567890, 2147483647, -1, -86400, 1709251199};

static void times(void) {
	setenv("TZ", "UTC", 1);
	tzset();
	for (size_t i = 0; i < sizeof instants / sizeof instants[0]; i++) {
		struct tm tm, local;
		char buf[256], ct[64];
		gmtime_r(&instants[i], &tm);
		strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S %a %A %b %B %j %U %W %u %w %y %C %e %D %F %T %R %p %I %G %g %V %s %z %Z %%", &tm);
		printf("%ld: %s yday %d wday %d\n", (long)instants[i], buf, tm.tm_yday, tm.tm_wday);
		localtime_r(&instants[i], &local);
		printf("  mktime %ld timegm %ld asctime %s  ctime_r %s", (long)mktime(&local), (long)timegm(&tm), asctime(&tm),
		       ctime_r(&instants[i], ct));
	}
	struct tm odd = {.tm_year = 100, .tm_mon = 13, .tm_mday = 35, .tm_hour = 25, .tm_min = 61, .tm_sec = 61, .tm_isdst = -1};
	time_t t = mktime(&odd);
	printf("normalised %ld: %d-%d-%d %d:%d:%d wday %d yday %d\n", (long)t, odd.tm_year, odd.tm_mon, odd.tm_mday, odd.tm_hour,
	       odd.tm_min, odd.tm_sec, odd.tm_wday, odd.tm_yday);
	struct tm parsed;
	memset(&parsed, 0, sizeof parsed);
	char *rest = strptime("2023-07-04 12:34:56 tail", "%Y-%m-%d %H:%M:%S", &parsed);
	printf("strptime rest [%s] %d %d %d %d %d %d -> %ld\n", rest, parsed.tm_year, parsed.tm_mon, parsed.tm_mday, parsed.tm_hour,
	       parsed.tm_min, parsed.tm_sec, (long)timegm(&parsed));
	setenv("TZ", "EST5EDT,M3.2.0,M11.1.0", 1);
	tzset();
	for (size_t i = 3; i < sizeof instants / sizeof instants[0]; i++) {
		struct tm local;
		char buf[64];
		localtime_r(&instants[i], &local);
		strftime(buf, sizeof buf, "%F %T %z %Z", &local);
		printf("EST5EDT %s dst %d (%s/%s, timezone %ld)\n", buf, local.tm_isdst, tzname[0], tzname[1], timezone);
	}
	setenv("TZ", "UTC", 1);
	tzset();
}

static void environment(void) {
	setenv("SYSMISC_A", "1", 0);
	setenv("SYSMISC_A", "2", 0);
	printf("setenv without overwrite: %s\n", getenv("SYSMISC_A"));
	setenv("SYSMISC_A", "3", 1);
	printf("setenv with overwrite: %s\n", getenv("SYSMISC_A"));
	static char entry[] = "SYSMISC_B=bee";
	putenv(entry);
	printf("putenv: %s\n", getenv("SYSMISC_B"));
	unsetenv("SYSMISC_A");
	printf("unsetenv: %s\n", getenv("SYSMISC_A") ? "still set" : "gone");
	errno = 0;
	printf("setenv(\"A=B\") %d errno %d\n", setenv("A=B", "x", 1), errno);
	char *tmpdir = getenv("TMPDIR");
	char *keep = strdup(tmpdir ? tmpdir : "/tmp");
	clearenv();
	printf("after clearenv PATH is %s\n", getenv("PATH") ? "set" : "unset");
	setenv("TMPDIR", keep, 1);
	free(keep);
}

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void list(const char *dir) {
	DIR *d = opendir(dir);
	char *names[16];
	int n = 0;
	struct dirent64 *e;
	while (n < 16 && (e = readdir64(d)) != NULL)
		names[n++] = strdup(e->d_name);
	closedir(d);
	qsort(names, n, sizeof names[0], by_name);
	for (int i = 0; i < n; i++) {
		char path[512];
		struct stat st;
		snprintf(path, sizeof path, "%s/%s", dir, names[i]);
		int r = stat(path, &st);
		if (S_ISDIR(st.st_mode))
			printf("  %s: stat %d directory mode %o\n", names[i], r, st.st_mode & 07777);
		else
			printf("  %s: stat %d size %lld mode %o links %d\n", names[i], r, (long long)st.st_size, st.st_mode & 07777,
			       (int)st.st_nlink);
		free(names[i]);
	}
}

static void files(void) {
	char top[512], sub[600], path[700];
	snprintf(top, sizeof top, "%s/sysmiscXXXXXX", getenv("TMPDIR"));
	if (!mkdtemp(top)) {
		perror("mkdtemp");
		exit(1);
	}
	snprintf(sub, sizeof sub, "%s/sub", top);
	printf("mkdir %d\n", mkdir(sub, 0750));
	errno = 0;
	printf("mkdir again %d %s\n", mkdir(sub, 0750), strerror(errno));
	for (int i = 0; i < 4; i++) {
		snprintf(path, sizeof path, "%s/file%d", sub, i);
		FILE *f = fopen(path, "w");
		for (int j = 0; j <= i * 100; j++)
			fprintf(f, "line %d of %d\n", j, i);
		fclose(f);
	}
	list(sub);

	snprintf(path, sizeof path, "%s/file3", sub);
	FILE *f = fopen(path, "r+");
	fseek(f, 0, SEEK_END);
	printf("ftell at the end %ld\n", ftell(f));
	fseek(f, 100, SEEK_SET);
	char line[64];
	fgets(line, sizeof line, f);
	printf("at 100: %s", line);
	fseek(f, -20, SEEK_CUR);
	printf("ftell %ld\n", ftell(f));
	fwrite("XXXX", 1, 4, f);
	rewind(f);
	size_t total = 0, got;
	unsigned h = 0;
	char block[333];
	while ((got = fread(block, 1, sizeof block, f)) > 0) {
		total += got;
		for (size_t i = 0; i < got; i++)
			h = h * 31 + (unsigned char)block[i];
	}
	printf("fread %zu bytes hash %08x eof %d\n", total, h, feof(f) != 0);
	fclose(f);

	int fd = open(path, O_RDWR);
	printf("ftruncate to 10: %d\n", ftruncate(fd, 10));
	struct stat st;
	fstat(fd, &st);
	printf("size %lld\n", (long long)st.st_size);
	errno = 0;
	printf("ftruncate to -1: %d %s\n", ftruncate(fd, -1), strerror(errno));
	struct iovec out[3] = {{"ab", 2}, {"cdef", 4}, {"g", 1}};
	lseek(fd, 0, SEEK_END);
	printf("writev %zd\n", writev(fd, out, 3));
	char first[4] = {0}, second[40] = {0};
	struct iovec in[2] = {{first, 3}, {second, 30}};
	lseek(fd, 0, SEEK_SET);
	printf("readv %zd [%s] [%s]\n", readv(fd, in, 2), first, second);
	printf("pwrite %zd\n", pwrite(fd, "PW", 2, 4));
	char back[20] = {0};
	printf("pread %zd [%s]\n", pread(fd, back, sizeof back - 1, 0), back);
	struct flock lock = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 10};
	printf("F_SETLK %d\n", fcntl(fd, F_SETLK, &lock));
	lock.l_type = F_RDLCK;
	printf("F_GETLK %d: %s\n", fcntl(fd, F_GETLK, &lock), lock.l_type == F_UNLCK ? "unlocked" : "locked");
	lock.l_type = 99;
	errno = 0;
	printf("F_SETLK with a bad type %d errno %d\n", fcntl(fd, F_SETLK, &lock), errno);
	printf("lockf %d %d flock %d %d\n", lockf(fd, F_LOCK, 0), lockf(fd, F_ULOCK, 0), flock(fd, LOCK_EX | LOCK_NB), flock(fd, LOCK_UN));
	printf("posix_fallocate %d", posix_fallocate(fd, 100, 4000));
	fstat(fd, &st);
	printf(" size %lld, posix_fadvise %d\n", (long long)st.st_size, posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL));
	close(fd);
	printf("truncate to 3: %d\n", truncate(path, 3));
	stat(path, &st);
	printf("size %lld\n", (long long)st.st_size);
	snprintf(line, sizeof line, "%s", "missing");
	char missing[720];
	snprintf(missing, sizeof missing, "%s/%s", sub, line);
	errno = 0;
	printf("truncate a missing file: %d %s\n", truncate(missing, 0), strerror(errno));

	char renamed[720];
	snprintf(renamed, sizeof renamed, "%s/renamed", sub);
	printf("rename %d, old name %d, new name %d\n", rename(path, renamed), access(path, F_OK), access(renamed, F_OK));
	list(sub);
	errno = 0;
	printf("rmdir a full directory: %d %s\n", rmdir(sub), strerror(errno));
	for (int i = 0; i < 3; i++) {
		snprintf(path, sizeof path, "%s/file%d", sub, i);
		unlink(path);
	}
	printf("unlink %d\n", unlink(renamed));
	errno = 0;
	printf("unlink again %d %s\n", unlink(renamed), strerror(errno));
	printf("rmdir %d %d\n", rmdir(sub), rmdir(top));
}

static void *named_thread(void *arg) {
	char name[16] = "";
	prctl(PR_GET_NAME, name);
	printf("new thread starts as [%s]\n", name);
	pthread_setname_np(pthread_self(), "worker");
	pthread_getname_np(pthread_self(), name, sizeof name);
	printf("then [%s]\n", name);
	return NULL;
}

static void process(void) {
	char name[17] = "";
	printf("PR_SET_NAME %d\n", prctl(PR_SET_NAME, "a-very-long-thread-name"));
	printf("PR_GET_NAME %d [%s]\n", prctl(PR_GET_NAME, name), name);
	pthread_t t;
	pthread_create(&t, NULL, named_thread, NULL);
	pthread_join(t, NULL);
	printf("main thread still [%s]\n", (prctl(PR_GET_NAME, name), name));
	printf("dumpable %d, set 0: %d, now %d\n", prctl(PR_GET_DUMPABLE), prctl(PR_SET_DUMPABLE, 0), prctl(PR_GET_DUMPABLE));
	/* qemu-hppa answers for itself, so only changes are printed. */
	int start = getpriority(PRIO_PROCESS, 0);
	printf("nice(3) raises the niceness by %d\n", nice(3) - start);
	printf("getpriority: +%d, by pid +%d\n", getpriority(PRIO_PROCESS, 0) - start, getpriority(PRIO_PROCESS, getpid()) - start);
	printf("setpriority 50: %d, now %d\n", setpriority(PRIO_PROCESS, 0, 50), getpriority(PRIO_PROCESS, 0));
	errno = 0;
	printf("getpriority of another process %d errno %d\n", getpriority(PRIO_PROCESS, 999999), errno);
	static char locked[10000];
	printf("mlock %d munlock %d munlockall %d\n", mlock(locked + 5, 9000), munlock(locked + 5, 9000), munlockall());
	errno = 0;
	printf("mlockall(0) %d errno %d\n", mlockall(0), errno);
	printf("getgroups succeeds %d\n", getgroups(0, NULL) >= 0);
	printf("page size %ld %d\n", sysconf(_SC_PAGESIZE), getpagesize());
}

/* slurp reads a whole (small) file. */
static ssize_t slurp(const char *path, char *buf, size_t size) {
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, size);
	close(fd);
	return n;
}

static void proc_files(const char *argv0) {
	char buf[1024];
	ssize_t n = slurp("/proc/self/cmdline", buf, sizeof buf);
	int entries = 0;
	for (ssize_t i = 0; i < n; i++)
		entries += buf[i] == 0;
	printf("/proc/self/cmdline: %d entries, the first argv[0]: %d\n", entries, n > 0 && strcmp(buf, argv0) == 0);
	prctl(PR_SET_NAME, "renamed");
	n = slurp("/proc/self/comm", buf, sizeof buf);
	printf("/proc/self/comm after PR_SET_NAME: %.*s", (int)(n > 0 ? n : 0), buf);
	n = slurp("/proc/cpuinfo", buf, sizeof buf);
	printf("/proc/cpuinfo:\n%.*s", (int)(n > 0 ? n : 0), buf);
}

static void on_alarm(int sig) { (void)sig; }

static pthread_t sleeper;
static volatile int slept;

/* Interrupts the sleeper every 100 ms until its sleep has returned: one
 * alarm sent before the sleep began would leave the whole sleep
 * uninterrupted, however late a single alarm is sent on a loaded host. */
static void *alarms(void *arg) {
	(void)arg;
	struct timespec pause = {0, 100 * 1000 * 1000};
	while (!slept) {
		pthread_kill(sleeper, SIGALRM);
		nanosleep(&pause, NULL);
	}
	return NULL;
}

static void interrupted_sleeps(void) {
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_alarm; /* no SA_RESTART */
	sigaction(SIGALRM, &sa, NULL);
	sleeper = pthread_self();
	pthread_t t;

	/* What is left depends on how soon the host runs the alarm: only
	 * that some, less than asked, is left is the same everywhere. */
	slept = 0;
	pthread_create(&t, NULL, alarms, NULL);
	struct timespec req = {3, 0}, rem = {0, 0};
	errno = 0;
	int r = nanosleep(&req, &rem);
	slept = 1;
	pthread_join(t, NULL);
	int some_left = rem.tv_sec < 3 && (rem.tv_sec > 0 || rem.tv_nsec > 0);
	printf("nanosleep(3 s) interrupted: %d errno %d, some of it left %d\n", r, errno, some_left);

	slept = 0;
	pthread_create(&t, NULL, alarms, NULL);
	unsigned left = sleep(3);
	slept = 1;
	pthread_join(t, NULL);
	printf("sleep(3) interrupted returns 1 to 3 %d\n", left >= 1 && left <= 3);
}

int main(int argc, char **argv) {
	setvbuf(stdout, NULL, _IOLBF, 0);
	umask(022);
	times();
	environment();
	files();
	process();
	interrupted_sleeps();
	proc_files(argv[0]);
	return 0;
}

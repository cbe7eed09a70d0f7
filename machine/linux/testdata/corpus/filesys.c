/* filesys: the file system and process calls beyond plain I/O, in a
 * scratch directory it makes under $TMPDIR (or /tmp) and removes.
 * - MAP_SHARED file mappings: writes through one reach the file on msync
 *   and on munmap, also after the descriptor is closed, and never make
 *   the file longer; a MAP_PRIVATE mapping's writes never reach it; a
 *   writable shared mapping needs a file open for writing (mmap and
 *   mprotect answer EACCES); msync of an unaligned address. (Not its
 *   other errors: qemu-hppa 7.2 hands the flags to the host untranslated
 *   and finds no hole in its reserved address space.)
 * - MAP_SHARED anonymous memory written by two threads, and kept by
 *   MADV_DONTNEED (private memory is zeroed by it).
 * - process groups and sessions: the program first makes itself a session
 *   leader with setsid() (under a job-control shell, which makes it a
 *   group leader already, that fails and the output differs), then
 *   prints what getpgrp, getpgid, getsid, setpgid and setsid answer.
 * - statfs and fstatfs on a directory, a file and a pipe, and their
 *   errors: it prints how the answers relate, never the figures.
 * - chdir, fchdir and getcwd; link, linkat with AT_SYMLINK_FOLLOW,
 *   symlink, symlinkat, readlink; chmod, fchmod, fchmodat; chown, fchown,
 *   lchown, fchownat to its own ids (it prints whether they succeed, never
 *   the ids); utimensat, futimens and utimes with fixed times,
 *   UTIME_OMIT and AT_SYMLINK_NOFOLLOW, and their errors.
 * Prints what it reads back, never paths, ids, times of day or figures of
 * the host's file system.
 *
 * Rebuild: ./build.sh filesys
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/time.h>
#include <unistd.h>

#include "corpus.h"

#define PAGE 4096
#define PIPEFS_MAGIC 0x50495045

static char dir[PATH_MAX];

/* at makes a path in the scratch directory. */
static const char *at(const char *name) {
	static char path[2][PATH_MAX + 64];
	static int turn;
	turn ^= 1;
	snprintf(path[turn], sizeof path[turn], "%s/%s", dir, name);
	return path[turn];
}

/* err describes the result of a call that returns 0 on success, failure
 * that of one that returns -1 on failure. */
static const char *err(int r) { return r == 0 ? "ok" : strerror(errno); }
static const char *failure(int r) { return r != -1 ? "ok" : strerror(errno); }

static void pread_line(int fd, off_t off, size_t n, const char *what) {
	char buf[64] = {0};
	CHECK(pread(fd, buf, n, off) == (ssize_t)n);
	printf("%s: %.*s\n", what, (int)n, buf);
}

static void shared_file(void) {
	int fd = open(at("mapped"), O_RDWR | O_CREAT | O_EXCL, 0600);
	CHECK(fd >= 0);
	char page[PAGE];
	for (int i = 0; i < 3; i++) {
		memset(page, 'a' + i, sizeof page);
		CHECK(write(fd, page, sizeof page) == PAGE);
	}
	CHECK(ftruncate(fd, 2 * PAGE + 100) == 0);
	char *map = mmap(NULL, 3 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(map != MAP_FAILED);
	int reader = open(at("mapped"), O_RDONLY);
	CHECK(close(fd) == 0);
	printf("mapped: %c%c%c, past the end of the file: %d\n", map[0], map[PAGE], map[2 * PAGE], map[2 * PAGE + 100]);

	memcpy(map + 10, "THROUGH THE MAP", 15);
	memcpy(map + 2 * PAGE + 90, "ACROSS THE END", 14);
	errno = 0;
	printf("msync MS_SYNC: %s\n", err(msync(map, 3 * PAGE, MS_SYNC)));
	pread_line(reader, 10, 15, "file after msync");
	pread_line(reader, 2 * PAGE + 90, 10, "up to the end");
	struct stat st;
	CHECK(fstat(reader, &st) == 0);
	printf("size after msync: %lld\n", (long long)st.st_size);

	memcpy(map + PAGE, "AT MUNMAP", 9);
	CHECK(munmap(map, 3 * PAGE) == 0);
	pread_line(reader, PAGE, 9, "file after munmap");

	char *private = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, reader, 0);
	CHECK(private != MAP_FAILED);
	memcpy(private, "PRIVATE", 7);
	CHECK(msync(private, PAGE, MS_SYNC) == 0);
	CHECK(munmap(private, PAGE) == 0);
	pread_line(reader, 0, 7, "after a private write");

	errno = 0;
	void *denied = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, reader, 0);
	printf("writable shared map of a read-only descriptor: %s\n", denied == MAP_FAILED ? strerror(errno) : "mapped");
	char *ro = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, reader, 0);
	CHECK(ro != MAP_FAILED);
	errno = 0;
	printf("mprotect it writable: %s\n", err(mprotect(ro, PAGE, PROT_READ | PROT_WRITE)));
	errno = 0;
	printf("msync unaligned: %s\n", err(msync(ro + 1, PAGE, MS_SYNC)));
	CHECK(munmap(ro, PAGE) == 0);
	close(reader);
	CHECK(unlink(at("mapped")) == 0);
}

static int *shared_ints;

static void *fill_half(void *arg) {
	int half = *(int *)arg;
	for (int i = 0; i < 512; i++)
		shared_ints[half * 512 + i] = half * 512 + i;
	return NULL;
}

static void shared_anonymous(void) {
	shared_ints = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	CHECK(shared_ints != MAP_FAILED);
	pthread_t threads[2];
	int halves[2] = {0, 1};
	for (int i = 0; i < 2; i++)
		CHECK(pthread_create(&threads[i], NULL, fill_half, &halves[i]) == 0);
	for (int i = 0; i < 2; i++)
		CHECK(pthread_join(threads[i], NULL) == 0);
	long sum = 0;
	for (int i = 0; i < 1024; i++)
		sum += shared_ints[i];
	printf("shared anonymous memory filled by two threads: sum %ld\n", sum);
	int *private = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(private != MAP_FAILED);
	private[7] = 7;
	CHECK(madvise(shared_ints, PAGE, MADV_DONTNEED) == 0);
	CHECK(madvise(private, PAGE, MADV_DONTNEED) == 0);
	printf("after MADV_DONTNEED: shared %d, private %d\n", shared_ints[7], private[7]);
	munmap(private, PAGE);
	munmap(shared_ints, PAGE);
}

static void session(void) {
	setsid(); /* fails if the program leads a process group already */
	pid_t pid = getpid();
	printf("group leader %d, session leader %d, getpgid(0) %d, getsid(pid) %d\n", getpgrp() == pid, getsid(0) == pid,
	       getpgid(0) == pid, getsid(pid) == pid);
	const pid_t none = 4194305; /* above Linux's highest pid */
	printf("setsid again: %s\n", failure(setsid()));
	printf("setpgid(0, 0): %s\n", failure(setpgid(0, 0)));
	printf("setpgid(0, -1): %s\n", failure(setpgid(0, -1)));
	printf("setpgid(none, 0): %s\n", failure(setpgid(none, 0)));
	printf("getpgid(none): %s\n", failure(getpgid(none)));
	printf("getsid(none): %s\n", failure(getsid(none)));
}

static int same_fs(const struct statfs *a, const struct statfs *b) {
	return a->f_type == b->f_type && a->f_bsize == b->f_bsize && memcmp(&a->f_fsid, &b->f_fsid, sizeof a->f_fsid) == 0 &&
	       a->f_namelen == b->f_namelen;
}

static void file_systems(void) {
	int fd = open(at("statfs"), O_RDWR | O_CREAT | O_EXCL, 0600);
	CHECK(fd >= 0);
	struct statfs d, f, byfd;
	CHECK(statfs(dir, &d) == 0);
	CHECK(statfs(at("statfs"), &f) == 0);
	CHECK(fstatfs(fd, &byfd) == 0);
	printf("statfs: dir and file alike %d, by path and by fd alike %d, bavail<=bfree<=blocks %d, bsize and namelen set %d\n",
	       same_fs(&d, &f), same_fs(&f, &byfd), byfd.f_bavail <= byfd.f_bfree && byfd.f_bfree <= byfd.f_blocks,
	       byfd.f_bsize > 0 && byfd.f_namelen > 0);
	int p[2];
	CHECK(pipe(p) == 0);
	struct statfs pipefs;
	CHECK(fstatfs(p[0], &pipefs) == 0);
	printf("a pipe is on pipefs: %d\n", pipefs.f_type == PIPEFS_MAGIC);
	close(p[0]);
	close(p[1]);
	errno = 0;
	printf("statfs of a missing path: %s\n", err(statfs(at("missing"), &f)));
	errno = 0;
	printf("fstatfs of a closed descriptor: %s\n", err(fstatfs(p[0], &f)));
	close(fd);
	CHECK(unlink(at("statfs")) == 0);
}

static void directories(void) {
	char start[PATH_MAX], cwd[PATH_MAX], real[PATH_MAX];
	CHECK(getcwd(start, sizeof start) != NULL);
	int back = open(".", O_RDONLY | O_DIRECTORY);
	CHECK(back >= 0);
	CHECK(mkdir(at("sub"), 0755) == 0);
	CHECK(chdir(at("sub")) == 0);
	CHECK(getcwd(cwd, sizeof cwd) != NULL);
	CHECK(realpath(at("sub"), real) != NULL);
	printf("after chdir getcwd is the directory: %d\n", strcmp(cwd, real) == 0);
	int fd = open("relative", O_WRONLY | O_CREAT | O_EXCL, 0600);
	CHECK(fd >= 0);
	close(fd);
	printf("a relative path lands there: %d\n", access(at("sub/relative"), F_OK) == 0);
	errno = 0;
	printf("chdir to a file: %s\n", err(chdir("relative")));
	errno = 0;
	printf("chdir to a missing path: %s\n", err(chdir("missing")));
	CHECK(fchdir(back) == 0);
	CHECK(getcwd(cwd, sizeof cwd) != NULL);
	printf("fchdir back: %d\n", strcmp(cwd, start) == 0);
	int p[2];
	CHECK(pipe(p) == 0);
	errno = 0;
	printf("fchdir to a pipe: %s\n", err(fchdir(p[0])));
	close(p[0]);
	close(p[1]);
	close(back);
	CHECK(unlink(at("sub/relative")) == 0);
	CHECK(rmdir(at("sub")) == 0);
}

static void names(void) {
	int fd = open(at("target"), O_WRONLY | O_CREAT | O_EXCL, 0600);
	CHECK(fd >= 0 && write(fd, "linked", 6) == 6);
	close(fd);
	CHECK(symlink("target", at("sym")) == 0);
	CHECK(symlinkat("no such target", AT_FDCWD, at("dangling")) == 0);
	char buf[64];
	ssize_t n = readlink(at("sym"), buf, sizeof buf);
	printf("readlink sym: %.*s\n", (int)(n > 0 ? n : 0), buf);
	n = readlink(at("dangling"), buf, sizeof buf);
	printf("readlink dangling: %.*s\n", (int)(n > 0 ? n : 0), buf);

	CHECK(link(at("target"), at("hard")) == 0);
	CHECK(link(at("sym"), at("hardsym")) == 0);
	CHECK(linkat(AT_FDCWD, at("sym"), AT_FDCWD, at("followed"), AT_SYMLINK_FOLLOW) == 0);
	struct stat t, h, hs, fl;
	CHECK(stat(at("target"), &t) == 0 && stat(at("hard"), &h) == 0);
	CHECK(lstat(at("hardsym"), &hs) == 0 && lstat(at("followed"), &fl) == 0);
	printf("link: same inode %d, nlink %ld; link of a symlink is a symlink %d; with AT_SYMLINK_FOLLOW a file %d\n",
	       t.st_ino == h.st_ino, (long)h.st_nlink, S_ISLNK(hs.st_mode), S_ISREG(fl.st_mode) && fl.st_ino == t.st_ino);
	errno = 0;
	printf("link onto an existing name: %s\n", err(link(at("target"), at("hard"))));
	errno = 0;
	printf("link of a missing file: %s\n", err(link(at("missing"), at("new"))));
	errno = 0;
	printf("symlink onto an existing name: %s\n", err(symlink("x", at("sym"))));
	errno = 0;
	printf("symlink to an empty target: %s\n", err(symlink("", at("empty"))));
	errno = 0;
	printf("linkat with a bad flag: %s\n", err(linkat(AT_FDCWD, at("target"), AT_FDCWD, at("new"), 0x8000)));
	for (const char *name = "hard\0hardsym\0followed\0sym\0dangling\0"; *name; name += strlen(name) + 1)
		CHECK(unlink(at(name)) == 0);
}

static void modes_and_owners(void) {
	int fd = open(at("target"), O_RDONLY);
	CHECK(fd >= 0);
	struct stat st;
	CHECK(chmod(at("target"), 0640) == 0 && stat(at("target"), &st) == 0);
	printf("chmod: %o\n", st.st_mode & 07777);
	CHECK(fchmod(fd, 0604) == 0 && fstat(fd, &st) == 0);
	printf("fchmod: %o\n", st.st_mode & 07777);
	CHECK(fchmodat(AT_FDCWD, at("target"), 04711, 0) == 0 && stat(at("target"), &st) == 0);
	printf("fchmodat: %o\n", st.st_mode & 07777);
	CHECK(symlink("target", at("sym")) == 0);
	CHECK(chmod(at("sym"), 0600) == 0 && lstat(at("sym"), &st) == 0 && S_ISLNK(st.st_mode));
	CHECK(stat(at("target"), &st) == 0);
	printf("chmod through a symlink: %o\n", st.st_mode & 07777);
	errno = 0;
	printf("chmod of a missing path: %s\n", err(chmod(at("missing"), 0600)));

	uid_t uid = getuid();
	gid_t gid = getgid();
	printf("chown to itself: %s", err(chown(at("target"), uid, gid)));
	printf(", fchown: %s", err(fchown(fd, -1, gid)));
	printf(", lchown: %s", err(lchown(at("sym"), uid, -1)));
	printf(", fchownat: %s", err(fchownat(AT_FDCWD, at("sym"), -1, -1, AT_SYMLINK_NOFOLLOW)));
	CHECK(stat(at("target"), &st) == 0);
	printf("; owner kept %d\n", st.st_uid == uid && st.st_gid == gid);
	errno = 0;
	printf("fchownat with a bad flag: %s\n", err(fchownat(AT_FDCWD, at("target"), uid, gid, 0x8000)));
	errno = 0;
	printf("chown of a missing path: %s\n", err(chown(at("missing"), uid, gid)));
	close(fd);
}

static void print_times(const char *what, const char *name, int follow) {
	struct stat st;
	CHECK((follow ? stat(name, &st) : lstat(name, &st)) == 0);
	printf("%s: atime %lld.%09ld mtime %lld.%09ld\n", what, (long long)st.st_atim.tv_sec, st.st_atim.tv_nsec,
	       (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
}

static void times(void) {
	struct timespec ts[2] = {{1000000000, 5}, {1234567890, 999999999}};
	CHECK(utimensat(AT_FDCWD, at("target"), ts, 0) == 0);
	print_times("utimensat", at("target"), 1);
	int fd = open(at("target"), O_RDONLY);
	CHECK(fd >= 0);
	struct timespec omit_atime[2] = {{0, UTIME_OMIT}, {86400, 0}};
	CHECK(futimens(fd, omit_atime) == 0);
	print_times("futimens, atime omitted", at("target"), 1);
	struct timeval tv[2] = {{42, 1}, {43, 2}};
	CHECK(utimes(at("target"), tv) == 0);
	print_times("utimes", at("target"), 1);
	struct timespec link_times[2] = {{7, 0}, {8, 0}};
	CHECK(utimensat(AT_FDCWD, at("sym"), link_times, AT_SYMLINK_NOFOLLOW) == 0);
	print_times("the symlink itself", at("sym"), 0);
	print_times("its target unchanged", at("sym"), 1);

	struct timespec both_omitted[2] = {{0, UTIME_OMIT}, {0, UTIME_OMIT}};
	errno = 0;
	printf("both omitted on a missing path: %s\n", err(utimensat(AT_FDCWD, at("missing"), both_omitted, 0)));
	struct timespec bad[2] = {{0, 1000000000}, {0, 0}};
	errno = 0;
	printf("nanoseconds out of range: %s\n", err(utimensat(AT_FDCWD, at("target"), bad, 0)));
	errno = 0;
	printf("a bad flag: %s\n", err(utimensat(AT_FDCWD, at("target"), ts, 0x8000)));
	errno = 0;
	printf("a missing path: %s\n", err(utimensat(AT_FDCWD, at("missing"), ts, 0)));
	errno = 0;
	printf("futimens of a closed descriptor: %s\n", err(futimens(99, ts)));
	CHECK(utimensat(AT_FDCWD, at("target"), NULL, 0) == 0);
	close(fd);
	CHECK(unlink(at("sym")) == 0);
	CHECK(unlink(at("target")) == 0);
}

int main(void) {
	umask(022);
	const char *tmp = getenv("TMPDIR");
	snprintf(dir, sizeof dir, "%s/synod-corpus-filesys-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (mkdtemp(dir) == NULL) {
		printf("mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	shared_file();
	shared_anonymous();
	session();
	file_systems();
	directories();
	names();
	modes_and_owners();
	times();
	CHECK(rmdir(dir) == 0);
	return checks_report();
}

/* See multipath.h. */
#include "multipath.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define RETRY_ROUNDS 600        /* rounds over every path before giving up */
#define RETRY_PAUSE_NS 100000000 /* between two rounds: 100 ms */

static long long now_ns(void) {
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

/* use makes path i the active one, judged afresh: what it took before
 * says little about it now. Its first I/O is not judged at all (took
 * -1): guest time moves when a seal's time is delivered, which may come
 * after the completion it seals, so that reading may still hold the
 * wait for the path before, such as an uncertain I/O's for its node to
 * be declared down. */
static void use(struct mp_disk *d, int i) {
	d->active = i;
	d->took[i] = -1;
}

int mp_open(struct mp_disk *d, const char *disk, int prefer) {
	memset(d, 0, sizeof *d);
	snprintf(d->name, sizeof d->name, "%s", disk);
	for (int node = 1; node <= MP_MAX_PATHS; node++) {
		char path[128];
		snprintf(path, sizeof path, "/dev/synod/%s.%d", disk, node);
		int fd = open(path, O_RDWR);
		if (fd < 0)
			continue;
		if (node == prefer)
			d->active = d->npaths;
		d->fd[d->npaths] = fd;
		d->node[d->npaths] = node;
		d->npaths++;
	}
	if (d->npaths == 0) {
		errno = ENOENT;
		return -1;
	}
	use(d, d->active);
	return 0;
}

static void fail_over(struct mp_disk *d, int err) {
	int from = d->active;
	use(d, (d->active + 1) % d->npaths);
	d->failovers++;
	fprintf(stderr, "multipath: %s through node %d failed (%s); now through node %d\n", d->name, d->node[from],
		strerror(err), d->node[d->active]);
}

/* judge counts an I/O that took took ns on the active path, and moves
 * to the next path not marked slow if the active one is slow. */
static void judge(struct mp_disk *d, long long took) {
	int from = d->active;
	if (d->took[from] < 0) {
		d->took[from] = 0;
		return;
	}
	d->took[from] = (d->took[from] + took) / 2;
	if (d->took[from] < MP_SLOW_NS)
		return;
	long long now = now_ns();
	for (int step = 1; step < d->npaths; step++) {
		int to = (from + step) % d->npaths;
		if (now < d->slow_until[to])
			continue;
		long long ms = d->took[from] / 1000000;
		d->slow_until[from] = now + MP_REPROBE_NS;
		use(d, to);
		d->slow_switches++;
		fprintf(stderr, "multipath: %s through node %d is slow (%lld ms an I/O); now through node %d\n", d->name,
			d->node[from], ms, d->node[to]);
		return;
	}
}

/* io does one whole I/O, write or read, failing over on EIO. */
static ssize_t io(struct mp_disk *d, int write, void *buf, size_t len, off_t off) {
	for (int round = 0; round < RETRY_ROUNDS; round++) {
		for (int tried = 0; tried < d->npaths; tried++) {
			int fd = d->fd[d->active];
			long long start = now_ns();
			size_t done = 0;
			while (done < len) {
				ssize_t n = write ? pwrite(fd, (char *)buf + done, len - done, off + done)
						  : pread(fd, (char *)buf + done, len - done, off + done);
				if (n < 0 && errno == EINTR)
					continue;
				if (n <= 0)
					break;
				done += n;
			}
			if (done == len) {
				judge(d, now_ns() - start);
				return len;
			}
			if (errno != EIO)
				return -1; /* not a path failure: the caller's to handle */
			fail_over(d, errno);
		}
		struct timespec pause = {0, RETRY_PAUSE_NS};
		nanosleep(&pause, NULL);
	}
	errno = EIO;
	return -1;
}

ssize_t mp_pwrite(struct mp_disk *d, const void *buf, size_t len, off_t off) {
	return io(d, 1, (void *)buf, len, off);
}

ssize_t mp_pread(struct mp_disk *d, void *buf, size_t len, off_t off) { return io(d, 0, buf, len, off); }

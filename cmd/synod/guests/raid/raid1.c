/* See raid1.h. */
#include "raid1.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define RESYNC_PROBE 8  /* writes between two probes of a failed disk */
#define CHUNK 4096

int raid1_open(struct raid1 *r, int n, char **names) {
	memset(r, 0, sizeof *r);
	if (n < 1 || n > RAID1_MAX_DISKS) {
		errno = EINVAL;
		return -1;
	}
	for (int i = 0; i < n; i++) {
		char path[128];
		snprintf(path, sizeof path, "/dev/synod/%s", names[i]);
		r->fd[i] = open(path, O_RDWR);
		if (r->fd[i] < 0)
			return -1;
		snprintf(r->name[i], sizeof r->name[i], "%s", names[i]);
		r->ndisks++;
	}
	return 0;
}

/* whole does one I/O on one disk to its end; it returns 0 or an errno. */
static int whole(int fd, int write, void *buf, size_t len, off_t off) {
	size_t done = 0;
	while (done < len) {
		ssize_t n = write ? pwrite(fd, (char *)buf + done, len - done, off + done)
				  : pread(fd, (char *)buf + done, len - done, off + done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno;
		if (n == 0)
			return EIO;
		done += n;
	}
	return 0;
}

static void fail(struct raid1 *r, int i, int err) {
	r->state[i] = RAID1_FAILED;
	r->failures++;
	fprintf(stderr, "raid1: %s failed (%s); running degraded\n", r->name[i], strerror(err));
}

static int source(struct raid1 *r) {
	for (int i = 0; i < r->ndisks; i++)
		if (r->state[i] == RAID1_ACTIVE)
			return i;
	return -1;
}

/* resync copies the written part of an active disk onto failed disk i,
 * if its node is back; it leaves i failed if the copy fails. */
static void resync(struct raid1 *r, int i) {
	char probe;
	if (pread(r->fd[i], &probe, 1, 0) < 0)
		return; /* still down */
	char chunk[CHUNK];
	for (off_t off = 0; off < r->written; off += CHUNK) {
		size_t len = r->written - off < CHUNK ? r->written - off : CHUNK;
		int from = source(r);
		if (from < 0)
			return;
		int err = whole(r->fd[from], 0, chunk, len, off);
		if (err) {
			fail(r, from, err);
			off -= CHUNK; /* again, from another disk */
			continue;
		}
		if (whole(r->fd[i], 1, chunk, len, off))
			return; /* down again: probed later */
	}
	r->state[i] = RAID1_ACTIVE;
	r->resyncs++;
	fprintf(stderr, "raid1: %s back and resynchronised (%ld bytes)\n", r->name[i], (long)r->written);
}

ssize_t raid1_pwrite(struct raid1 *r, const void *buf, size_t len, off_t off) {
	if (++r->writes % RESYNC_PROBE == 0)
		for (int i = 0; i < r->ndisks; i++)
			if (r->state[i] == RAID1_FAILED)
				resync(r, i);
	int wrote = 0;
	for (int i = 0; i < r->ndisks; i++) {
		if (r->state[i] != RAID1_ACTIVE)
			continue;
		int err = whole(r->fd[i], 1, (void *)buf, len, off);
		if (err) {
			fail(r, i, err);
			continue;
		}
		wrote++;
	}
	if (!wrote) {
		errno = EIO;
		return -1;
	}
	if (off + (off_t)len > r->written)
		r->written = off + len;
	return len;
}

ssize_t raid1_pread(struct raid1 *r, void *buf, size_t len, off_t off) {
	for (int i; (i = source(r)) >= 0;) {
		int err = whole(r->fd[i], 0, buf, len, off);
		if (!err)
			return len;
		fail(r, i, err);
	}
	errno = EIO;
	return -1;
}

int raid1_in_sync(struct raid1 *r) {
	char a[CHUNK], b[CHUNK];
	for (int i = 0; i < r->ndisks; i++)
		if (r->state[i] != RAID1_ACTIVE)
			return 0;
	for (off_t off = 0; off < r->written; off += CHUNK) {
		size_t len = r->written - off < CHUNK ? r->written - off : CHUNK;
		if (whole(r->fd[0], 0, a, len, off))
			return 0;
		for (int i = 1; i < r->ndisks; i++)
			if (whole(r->fd[i], 0, b, len, off) || memcmp(a, b, len) != 0)
				return 0;
	}
	return 1;
}

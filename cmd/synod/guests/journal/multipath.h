/* multipath: one disk reached through several nodes' paths.
 *
 * synod gives the guest one device file per (disk, node) pair,
 * /dev/synod/<disk>.<node>. An I/O through a path is performed by that
 * node; when the node fails, the I/O completes with EIO, "uncertain": it
 * may or may not have reached the disk. A block write is idempotent, so
 * the library reissues an uncertain write on the next path, and from then
 * on sends every I/O there. Reads fail over the same way.
 *
 * A path may also answer every I/O, only slowly: a faulty node of a
 * Byzantine cluster can always wait before it answers. So the library
 * judges the active path by how long its I/O takes, in guest time (which
 * every replica reads alike), and moves to another path once the recent
 * average reaches MP_SLOW_NS, marking the slow one to be left alone for
 * MP_REPROBE_NS. When every other path is marked slow it stays where it
 * is: switching would not help, and it cannot flap faster than one move
 * per path per MP_REPROBE_NS. A completed I/O is never sent again; only
 * the next one goes through the new path.
 */
#ifndef MULTIPATH_H
#define MULTIPATH_H

#include <sys/types.h>

#define MP_MAX_PATHS 16

/* A path whose I/O takes MP_SLOW_NS on average is slow: a healthy one
 * answers in a consensus round and a disk access, a few milliseconds,
 * and guest time moves in steps of the seals' times, so a single I/O
 * may read longer. A slow path is tried again after MP_REPROBE_NS. */
#define MP_SLOW_NS 100000000LL     /* 100 ms */
#define MP_REPROBE_NS 10000000000LL /* 10 s */

struct mp_disk {
	char name[64];
	int npaths;
	int fd[MP_MAX_PATHS];
	int node[MP_MAX_PATHS];
	int active; /* index of the path I/O goes through */
	/* took is each path's recent I/O duration, an average halving the
	 * weight of each older I/O, in ns of guest time (-1 before the
	 * first I/O since it became active, which is not judged); a path
	 * left for slowness is not chosen again before slow_until. */
	long long took[MP_MAX_PATHS];
	long long slow_until[MP_MAX_PATHS];
	unsigned long failovers;     /* moves on an uncertain I/O (EIO) */
	unsigned long slow_switches; /* moves away from a slow path */
};

/* mp_open opens every path to disk (nodes 1 to MP_MAX_PATHS), preferring
 * the one through node prefer. It returns 0, or -1 with errno ENOENT when
 * no path exists. */
int mp_open(struct mp_disk *d, const char *disk, int prefer);

/* mp_pwrite and mp_pread do the whole I/O through the active path,
 * failing over on EIO, and move off the path after it if it is slow.
 * When every path fails they wait and try again, for up to a minute,
 * since a node declared down comes back; then they return -1 with errno
 * EIO. */
ssize_t mp_pwrite(struct mp_disk *d, const void *buf, size_t len, off_t off);
ssize_t mp_pread(struct mp_disk *d, void *buf, size_t len, off_t off);

#endif

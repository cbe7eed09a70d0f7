/* multipath: one disk reached through several nodes' paths.
 *
 * synod gives the guest one device file per (disk, node) pair,
 * /dev/synod/<disk>.<node>. An I/O through a path is performed by that
 * node; when the node fails, the I/O completes with EIO, "uncertain": it
 * may or may not have reached the disk. A block write is idempotent, so
 * the library reissues an uncertain write on the next path, and from then
 * on sends every I/O there. Reads fail over the same way.
 */
#ifndef MULTIPATH_H
#define MULTIPATH_H

#include <sys/types.h>

#define MP_MAX_PATHS 16

struct mp_disk {
	char name[64];
	int npaths;
	int fd[MP_MAX_PATHS];
	int node[MP_MAX_PATHS];
	int active; /* index of the path I/O goes through */
	unsigned long failovers;
};

/* mp_open opens every path to disk (nodes 1 to MP_MAX_PATHS), preferring
 * the one through node prefer. It returns 0, or -1 with errno ENOENT when
 * no path exists. */
int mp_open(struct mp_disk *d, const char *disk, int prefer);

/* mp_pwrite and mp_pread do the whole I/O through the active path,
 * failing over on EIO. When every path fails they wait and try again,
 * for up to a minute, since a node declared down comes back; then they
 * return -1 with errno EIO. */
ssize_t mp_pwrite(struct mp_disk *d, const void *buf, size_t len, off_t off);
ssize_t mp_pread(struct mp_disk *d, void *buf, size_t len, off_t off);

#endif

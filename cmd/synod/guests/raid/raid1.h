/* raid1: a mirror over disks that each only one node reaches.
 *
 * synod gives the guest a device file per (disk, node) pair; a node-local
 * disk has one, /dev/synod/<disk>.<node>, and fails with EIO once its node
 * is declared down. The mirror writes every block to each active disk and
 * reads from the first; a disk that fails is dropped (the mirror runs
 * degraded) and probed again every RESYNC_PROBE writes: once its node is
 * back, the mirror copies the written part of a good disk onto it, then
 * counts it active again.
 */
#ifndef RAID1_H
#define RAID1_H

#include <sys/types.h>

#define RAID1_MAX_DISKS 8

enum raid1_state { RAID1_ACTIVE, RAID1_FAILED };

struct raid1 {
	int ndisks;
	int fd[RAID1_MAX_DISKS];
	char name[RAID1_MAX_DISKS][64];
	enum raid1_state state[RAID1_MAX_DISKS];
	off_t written; /* the end of the highest write: what a resync copies */
	unsigned long writes, failures, resyncs;
};

/* raid1_open opens the device files /dev/synod/<name> of each name. */
int raid1_open(struct raid1 *r, int n, char **names);

/* raid1_pwrite writes to every active disk; it succeeds while at least
 * one did. raid1_pread reads from the first active disk that answers.
 * Both return -1 with errno EIO when no disk is left. */
ssize_t raid1_pwrite(struct raid1 *r, const void *buf, size_t len, off_t off);
ssize_t raid1_pread(struct raid1 *r, void *buf, size_t len, off_t off);

/* raid1_in_sync reports whether every disk is active and holds the same
 * bytes up to the written end. */
int raid1_in_sync(struct raid1 *r);

#endif

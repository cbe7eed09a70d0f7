/* raid: writes numbered records to a RAID-1 mirror of node-local disks,
 * the guest of `synod demo raid`.
 *
 *   raid COUNT INTERVAL_MS DISK...
 *
 * DISK is a device file name under /dev/synod (e.g. local-1.1). Record i
 * is the 64-byte line "record <i>" at offset 64*i; "ack <i>" on stdout
 * says the mirror has it. At the end the program waits for every disk to
 * be back and resynchronised (probing as it writes a last record again),
 * checks that the mirrors hold the same bytes, and says so.
 *
 * Rebuild: hppa-linux-gnu-gcc -O2 -Wall -Wextra -static -s -o raid raid.c raid1.c
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "raid1.h"

#define RECORD 64
#define SETTLE_WRITES 4000 /* rewrites of the last record while waiting for a disk to return */

static void pause_ms(long ms) {
	struct timespec t = {ms / 1000, (ms % 1000) * 1000000};
	nanosleep(&t, NULL);
}

static int write_record(struct raid1 *r, long i) {
	char rec[RECORD];
	memset(rec, ' ', sizeof rec);
	int n = snprintf(rec, sizeof rec, "record %ld", i);
	rec[n] = ' ';
	rec[RECORD - 1] = '\n';
	if (raid1_pwrite(r, rec, RECORD, (off_t)i * RECORD) != RECORD) {
		fprintf(stderr, "raid: record %ld: %s\n", i, strerror(errno));
		return -1;
	}
	return 0;
}

int main(int argc, char **argv) {
	if (argc < 4) {
		fprintf(stderr, "usage: raid COUNT INTERVAL_MS DISK...\n");
		return 2;
	}
	long count = atol(argv[1]), interval = atol(argv[2]);
	struct raid1 r;
	if (raid1_open(&r, argc - 3, argv + 3) < 0) {
		fprintf(stderr, "raid: %s\n", strerror(errno));
		return 1;
	}
	printf("raid: mirroring %ld records over %d disks\n", count, r.ndisks);
	fflush(stdout);
	for (long i = 0; i < count; i++) {
		if (write_record(&r, i) < 0)
			return 1;
		printf("ack %ld\n", i);
		fflush(stdout);
		if (interval > 0)
			pause_ms(interval);
	}
	for (int n = 0; n < SETTLE_WRITES && !raid1_in_sync(&r); n++) {
		if (write_record(&r, count - 1) < 0)
			return 1;
		pause_ms(interval > 0 ? interval : 10);
	}
	printf("raid: %ld records, %lu disk failures, %lu resyncs; mirrors %s\n", count, r.failures, r.resyncs,
	       raid1_in_sync(&r) ? "in sync" : "NOT in sync");
	return 0;
}

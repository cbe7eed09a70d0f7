/* journal: appends numbered records to a disk through multipath, the
 * guest of `synod demo multipath`.
 *
 *   journal DISK COUNT [INTERVAL_MS [NODE]]
 *
 * Record i is the 64-byte line "record <i>" at offset 4096 + 64*i; the
 * header at offset 0 is "JRNL" and the count of records written, updated
 * after each record. After both writes completed, the journal prints
 * "ack <i>" on stdout: an acknowledged record is on the disk. I/O goes
 * through node NODE's path (default 1) and fails over to the next path
 * when that node fails, or when its I/O is slow.
 *
 * Rebuild: hppa-linux-gnu-gcc -O2 -Wall -Wextra -static -s -o journal journal.c multipath.c
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "multipath.h"

#define RECORD 64
#define FIRST_RECORD 4096

int main(int argc, char **argv) {
	if (argc < 3) {
		fprintf(stderr, "usage: journal DISK COUNT [INTERVAL_MS [NODE]]\n");
		return 2;
	}
	long count = atol(argv[2]);
	long interval = argc > 3 ? atol(argv[3]) : 0;
	int prefer = argc > 4 ? atoi(argv[4]) : 1;
	struct mp_disk d;
	if (mp_open(&d, argv[1], prefer) < 0) {
		fprintf(stderr, "journal: no path to disk %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	printf("journal: %s has %d paths; writing %ld records through node %d\n", argv[1], d.npaths, count, d.node[d.active]);
	fflush(stdout);
	for (long i = 0; i < count; i++) {
		char rec[RECORD];
		memset(rec, ' ', sizeof rec);
		int n = snprintf(rec, sizeof rec, "record %ld", i);
		rec[n] = ' ';
		rec[RECORD - 1] = '\n';
		if (mp_pwrite(&d, rec, RECORD, FIRST_RECORD + (off_t)i * RECORD) != RECORD) {
			fprintf(stderr, "journal: record %ld: %s\n", i, strerror(errno));
			return 1;
		}
		unsigned char header[8] = {'J', 'R', 'N', 'L', (i + 1) >> 24, (i + 1) >> 16, (i + 1) >> 8, i + 1};
		if (mp_pwrite(&d, header, sizeof header, 0) != sizeof header) {
			fprintf(stderr, "journal: header after record %ld: %s\n", i, strerror(errno));
			return 1;
		}
		printf("ack %ld\n", i);
		fflush(stdout);
		if (interval > 0) {
			struct timespec pause = {interval / 1000, (interval % 1000) * 1000000};
			nanosleep(&pause, NULL);
		}
	}
	printf("journal: %ld records written, %lu failovers, %lu slow paths left\n", count, d.failovers, d.slow_switches);
	return 0;
}

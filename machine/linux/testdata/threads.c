/* threads: pthreads with a mutex, a condition variable, a sleep, files,
 * time and random bytes; prints only what does not depend on them, so its
 * output is the same everywhere. The tests use it to show that scheduling
 * is deterministic and that snapshots resume exactly.
 *
 * Rebuild: hppa-linux-gnu-gcc -O2 -static -s -pthread -o threads threads.c
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#define WORKERS 4
#define ROUNDS 2000

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t turn = PTHREAD_COND_INITIALIZER;
static long counter;
static int next_worker;

static void *worker(void *arg) {
	long id = (long)arg;
	for (int i = 0; i < ROUNDS; i++) {
		pthread_mutex_lock(&mu);
		counter += id + 1;
		pthread_mutex_unlock(&mu);
	}
	/* Finish strictly in order, through the condition variable. */
	pthread_mutex_lock(&mu);
	while (next_worker != id)
		pthread_cond_wait(&turn, &mu);
	printf("worker %ld done\n", id);
	next_worker++;
	pthread_cond_broadcast(&turn);
	pthread_mutex_unlock(&mu);
	return (void *)(id * 10);
}

int main(int argc, char **argv) {
	pthread_t t[WORKERS];
	for (long i = 0; i < WORKERS; i++)
		if (pthread_create(&t[i], NULL, worker, (void *)i) != 0) {
			perror("pthread_create");
			return 1;
		}
	long sum = 0;
	for (int i = 0; i < WORKERS; i++) {
		void *ret;
		pthread_join(t[i], &ret);
		sum += (long)ret;
	}
	struct timespec nap = {0, 2000000};
	nanosleep(&nap, NULL);
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	unsigned char rnd[8];
	ssize_t got = getrandom(rnd, sizeof rnd, 0);
	FILE *f = fopen(argc > 1 ? argv[1] : "/etc/hostname", "r");
	char line[64] = "";
	if (f) {
		fgets(line, sizeof line, f);
		fclose(f);
	}
	printf("counter %ld, joined %ld, random %zd bytes, file %s\n", counter, sum, got, f ? "read" : "missing");
	return 0;
}

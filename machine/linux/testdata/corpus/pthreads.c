/* pthreads: threads and their synchronisation, with results that do not
 * depend on the schedule. A mutex-protected counter, C11 atomics
 * (fetch_add, compare-exchange loops, exchange), GCC __sync builtins, a
 * spinlock built on atomic_flag, a producer/consumer queue on condition
 * variables, a barrier, a read-write lock, pthread_once, thread-local
 * storage, join return values, a detached thread, and 200 short-lived
 * threads (stacks reused, exit wakes the joiner through the tid futex).
 *
 * Rebuild: ./build.sh
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "corpus.h"

#define THREADS 4
#define ITERS 20000

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static long locked_counter;
static atomic_long atomic_counter;
static atomic_long cas_counter;
static long sync_counter;
static atomic_flag spin = ATOMIC_FLAG_INIT;
static long spin_counter;
static atomic_int max_seen;
static __thread long tls_value;

static void *hammer(void *arg) {
	long id = (long)arg;
	tls_value = id * 1000;
	for (int i = 0; i < ITERS; i++) {
		pthread_mutex_lock(&mu);
		locked_counter++;
		pthread_mutex_unlock(&mu);

		atomic_fetch_add(&atomic_counter, 2);
		__sync_fetch_and_add(&sync_counter, 3);

		long old = atomic_load(&cas_counter);
		while (!atomic_compare_exchange_weak(&cas_counter, &old, old + 5))
			;

		while (atomic_flag_test_and_set_explicit(&spin, memory_order_acquire))
			;
		spin_counter++;
		atomic_flag_clear_explicit(&spin, memory_order_release);

		int v = (int)(id * ITERS + i), m = atomic_load(&max_seen);
		while (v > m && !atomic_compare_exchange_weak(&max_seen, &m, v))
			;
		tls_value++;
	}
	/* Every thread has its own copy. */
	return (void *)(tls_value - id * 1000);
}

/* A bounded queue: producers block while it is full, consumers while it
 * is empty. */
#define QCAP 8
#define ITEMS 3000
static struct {
	pthread_mutex_t mu;
	pthread_cond_t not_full, not_empty;
	int buf[QCAP];
	int head, len, closed;
} q = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, PTHREAD_COND_INITIALIZER, {0}, 0, 0, 0};

static void *producer(void *arg) {
	long base = (long)arg;
	for (int i = 1; i <= ITEMS; i++) {
		pthread_mutex_lock(&q.mu);
		while (q.len == QCAP)
			pthread_cond_wait(&q.not_full, &q.mu);
		q.buf[(q.head + q.len++) % QCAP] = (int)base + i;
		pthread_cond_signal(&q.not_empty);
		pthread_mutex_unlock(&q.mu);
	}
	return NULL;
}

static void *consumer(void *arg) {
	long long *sum = arg;
	for (;;) {
		pthread_mutex_lock(&q.mu);
		while (q.len == 0 && !q.closed)
			pthread_cond_wait(&q.not_empty, &q.mu);
		if (q.len == 0) {
			pthread_mutex_unlock(&q.mu);
			return NULL;
		}
		int v = q.buf[q.head];
		q.head = (q.head + 1) % QCAP;
		q.len--;
		pthread_cond_signal(&q.not_full);
		pthread_mutex_unlock(&q.mu);
		*sum += v;
	}
}

static pthread_barrier_t barrier;
static atomic_int arrived, after_barrier_ok;

static void *barrier_worker(void *arg) {
	(void)arg;
	for (int round = 1; round <= 20; round++) {
		atomic_fetch_add(&arrived, 1);
		pthread_barrier_wait(&barrier);
		/* Everyone has arrived for this round. */
		if (atomic_load(&arrived) >= round * THREADS)
			atomic_fetch_add(&after_barrier_ok, 1);
		pthread_barrier_wait(&barrier);
	}
	return NULL;
}

static pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;
static long table[16];

static void *rw_worker(void *arg) {
	long id = (long)arg, bad = 0;
	for (int i = 0; i < 2000; i++) {
		if (i % 10 == (int)id) {
			pthread_rwlock_wrlock(&rw);
			for (int j = 0; j < 16; j++)
				table[j]++;
			pthread_rwlock_unlock(&rw);
		} else {
			pthread_rwlock_rdlock(&rw);
			for (int j = 1; j < 16; j++)
				bad += table[j] != table[0]; /* a writer is never half done */
			pthread_rwlock_unlock(&rw);
		}
	}
	return (void *)bad;
}

static pthread_once_t once = PTHREAD_ONCE_INIT;
static atomic_int once_runs;
static void init_once(void) { atomic_fetch_add(&once_runs, 1); }

static void *once_worker(void *arg) {
	(void)arg;
	pthread_once(&once, init_once);
	return NULL;
}

static void *square(void *arg) { return (void *)((long)arg * (long)arg); }

/* churn creates and joins short-lived threads in batches. */
static long churn(void) {
	long total = 0;
	for (long batch = 0; batch < 25; batch++) {
		pthread_t t[8];
		for (long i = 0; i < 8; i++)
			pthread_create(&t[i], NULL, square, (void *)(batch * 8 + i));
		for (int i = 0; i < 8; i++) {
			void *r;
			pthread_join(t[i], &r);
			total += (long)r;
		}
	}
	return total;
}

static atomic_int detached_done;
static void *detached(void *arg) {
	(void)arg;
	atomic_store(&detached_done, 1);
	return NULL;
}

int main(void) {
	pthread_t t[THREADS];
	for (long i = 0; i < THREADS; i++)
		pthread_create(&t[i], NULL, hammer, (void *)i);
	long tls_total = 0;
	for (int i = 0; i < THREADS; i++) {
		void *r;
		pthread_join(t[i], &r);
		tls_total += (long)r;
	}
	printf("mutex %ld atomic %ld sync %ld cas %ld spin %ld max %d tls %ld\n", locked_counter,
	       atomic_load(&atomic_counter), sync_counter, atomic_load(&cas_counter), spin_counter,
	       atomic_load(&max_seen), tls_total);
	CHECK(locked_counter == THREADS * ITERS && spin_counter == THREADS * ITERS);
	/* One builtin per statement: argument evaluation order is unspecified. */
	int val_cas = __sync_val_compare_and_swap(&sync_counter, 0, 1) != 0;
	int bool_cas = __sync_bool_compare_and_swap(&sync_counter, THREADS * ITERS * 3, 7);
	long test_and_set = __sync_lock_test_and_set(&sync_counter, 9);
	__sync_fetch_and_or(&sync_counter, 0x30);
	__sync_fetch_and_and(&sync_counter, 0xf1);
	long bits = __sync_xor_and_fetch(&sync_counter, 0x101);
	printf("__sync: val_cas %d bool_cas %d lock_test_and_set %ld, or/and/xor %lx\n", val_cas, bool_cas,
	       test_and_set, bits);
	atomic_long ex = 5;
	long prev = atomic_exchange(&ex, 11);
	printf("exchange %ld -> %ld, lock free %d\n", prev, atomic_load(&ex), atomic_is_lock_free(&ex));

	pthread_t prod[2], cons[2];
	long long sums[2] = {0, 0};
	pthread_create(&prod[0], NULL, producer, (void *)0L);
	pthread_create(&prod[1], NULL, producer, (void *)100000L);
	pthread_create(&cons[0], NULL, consumer, &sums[0]);
	pthread_create(&cons[1], NULL, consumer, &sums[1]);
	pthread_join(prod[0], NULL);
	pthread_join(prod[1], NULL);
	pthread_mutex_lock(&q.mu);
	q.closed = 1;
	pthread_cond_broadcast(&q.not_empty);
	pthread_mutex_unlock(&q.mu);
	pthread_join(cons[0], NULL);
	pthread_join(cons[1], NULL);
	printf("queue total %lld\n", sums[0] + sums[1]);

	pthread_barrier_init(&barrier, NULL, THREADS);
	for (long i = 0; i < THREADS; i++)
		pthread_create(&t[i], NULL, barrier_worker, NULL);
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&barrier);
	printf("barrier rounds ok %d of %d\n", atomic_load(&after_barrier_ok), 20 * THREADS);

	long torn = 0;
	for (long i = 0; i < THREADS; i++)
		pthread_create(&t[i], NULL, rw_worker, (void *)i);
	for (int i = 0; i < THREADS; i++) {
		void *r;
		pthread_join(t[i], &r);
		torn += (long)r;
	}
	printf("rwlock table %ld torn reads %ld\n", table[15], torn);

	for (long i = 0; i < THREADS; i++)
		pthread_create(&t[i], NULL, once_worker, NULL);
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	printf("once ran %d time(s)\n", atomic_load(&once_runs));

	long squares = churn();
	printf("200 threads came and went: sum of squares %ld\n", squares);
	CHECK(squares == 199L * 200 * 399 / 6);

	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_t d;
	pthread_create(&d, &attr, detached, NULL);
	pthread_attr_destroy(&attr);
	for (int i = 0; i < 100000 && !atomic_load(&detached_done); i++)
		sched_yield();
	printf("detached thread ran %d\n", atomic_load(&detached_done));
	return checks_report();
}

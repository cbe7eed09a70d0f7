/* timerand: time and randomness, whose values differ on every run, so it
 * prints only whether they are plausible: the real-time clocks agree with
 * each other and lie after 2020, the monotonic clock never goes back,
 * nanosleep and clock_nanosleep sleep at least as long as asked (and not
 * absurdly longer), clock_getres answers, and getrandom fills its buffer
 * with bytes that are not all equal and differ between calls.
 *
 * Rebuild: ./build.sh
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/time.h>
#include <time.h>

#include "corpus.h"

static int64_t ns(struct timespec t) { return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec; }

static int64_t mono_ns(void) {
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return ns(t);
}

static void clocks(void) {
	struct timespec rt, res;
	struct timeval tv;
	CHECK(clock_gettime(CLOCK_REALTIME, &rt) == 0);
	CHECK(gettimeofday(&tv, NULL) == 0);
	time_t now = time(NULL);
	/* 2020-01-01 to 2100-01-01. */
	CHECK(rt.tv_sec > 1577836800 && rt.tv_sec < 4102444800);
	CHECK(rt.tv_nsec >= 0 && rt.tv_nsec < 1000000000);
	CHECK(tv.tv_usec >= 0 && tv.tv_usec < 1000000);
	/* time() reads the kernel's coarse clock, which may not have ticked
	 * past a second boundary that clock_gettime already crossed. */
	CHECK(now - rt.tv_sec >= -1 && now - rt.tv_sec < 60);
	CHECK(tv.tv_sec - rt.tv_sec >= 0 && tv.tv_sec - rt.tv_sec < 60);
	struct tm tm;
	CHECK(gmtime_r(&now, &tm) != NULL && tm.tm_year >= 120);

	int64_t prev = mono_ns(), backwards = 0;
	for (int i = 0; i < 10000; i++) {
		int64_t t = mono_ns();
		backwards += t < prev;
		prev = t;
	}
	CHECK(backwards == 0);
	CHECK(clock_getres(CLOCK_MONOTONIC, &res) == 0 && ns(res) > 0 && ns(res) <= 1000000);
	struct timespec cpu;
	CHECK(clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu) == 0 || errno == EINVAL);
	printf("clocks plausible\n");
}

static void sleeps(void) {
	int64_t before = mono_ns();
	struct timespec req = {0, 20 * 1000000};
	CHECK(nanosleep(&req, NULL) == 0);
	int64_t slept = mono_ns() - before;
	CHECK(slept >= 20000000 && slept < 20000000000ll);

	struct timespec deadline;
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_nsec += 15 * 1000000;
	if (deadline.tv_nsec >= 1000000000) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000;
	}
	CHECK(clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &deadline, NULL) == 0);
	CHECK(mono_ns() >= ns(deadline));
	struct timespec bad = {0, 2000000000};
	CHECK(nanosleep(&bad, NULL) == -1 && errno == EINVAL);
	printf("sleeps plausible\n");
}

static void randomness(void) {
	unsigned char a[64], b[64];
	memset(a, 0, sizeof a);
	memset(b, 0, sizeof b);
	CHECK(getrandom(a, sizeof a, 0) == (ssize_t)sizeof a);
	CHECK(getrandom(b, sizeof b, GRND_NONBLOCK) == (ssize_t)sizeof b);
	CHECK(memcmp(a, b, sizeof a) != 0);
	int distinct = 0;
	for (int i = 1; i < 64; i++)
		distinct += a[i] != a[0];
	CHECK(distinct > 0);
	unsigned char big[4096];
	CHECK(getrandom(big, sizeof big, 0) == (ssize_t)sizeof big);
	int ones = 0;
	for (size_t i = 0; i < sizeof big; i++)
		ones += __builtin_popcount(big[i]);
	/* 16384 bits expected; eight standard deviations either side. */
	CHECK(ones > 16384 - 8 * 64 && ones < 16384 + 8 * 64);
	CHECK(getrandom(a, 0, 0) == 0);
	CHECK(getrandom(a, 16, 0xff00) == -1 && errno == EINVAL);
	printf("random bytes plausible\n");
}

int main(void) {
	clocks();
	sleeps();
	randomness();
	return checks_report();
}

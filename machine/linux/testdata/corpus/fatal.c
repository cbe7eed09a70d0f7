/* fatal: dying of a signal nobody catches, the way its argument says; the
 * exit status a shell (and qemu-hppa, and synod run) reports is 128 + the
 * signal number.
 *   segv    write to NULL              (SIGSEGV, 139)
 *   abort   abort()                    (SIGABRT, 134)
 *   term    kill(getpid(), SIGTERM)    (SIGTERM, 143)
 *   kill    raise(SIGKILL)             (SIGKILL, 137)
 *   div0    integer division by zero   (SIGFPE, 136: the millicode traps)
 *   trap    __builtin_trap()           (SIGFPE, 136: GCC emits a
 *                                       trap-on-condition addi)
 *   blocked SIGTERM blocked, raised, then unblocked (SIGTERM, 143)
 *   thread  a second thread writes to NULL: the whole process dies (139)
 * Output written before the signal is flushed by hand, since a signal
 * death does not flush stdio.
 *
 * Rebuild: ./build.sh
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void *crash(void *arg) {
	volatile int *volatile p = arg;
	*p = 1;
	return NULL;
}

int main(int argc, char **argv) {
	if (argc < 2) {
		fprintf(stderr, "usage: fatal segv|abort|term|kill|div0|trap|blocked|thread\n");
		return 2;
	}
	const char *how = argv[1];
	printf("dying by %s\n", how);
	fflush(stdout);
	if (strcmp(how, "segv") == 0) {
		crash(NULL);
	} else if (strcmp(how, "abort") == 0) {
		abort();
	} else if (strcmp(how, "term") == 0) {
		kill(getpid(), SIGTERM);
	} else if (strcmp(how, "kill") == 0) {
		raise(SIGKILL);
	} else if (strcmp(how, "div0") == 0) {
		volatile int zero = 0, seven = 7;
		printf("%d\n", seven / zero);
	} else if (strcmp(how, "trap") == 0) {
		__builtin_trap();
	} else if (strcmp(how, "blocked") == 0) {
		sigset_t set;
		sigemptyset(&set);
		sigaddset(&set, SIGTERM);
		sigprocmask(SIG_BLOCK, &set, NULL);
		raise(SIGTERM);
		printf("still alive while SIGTERM is blocked\n");
		fflush(stdout);
		sigprocmask(SIG_UNBLOCK, &set, NULL);
	} else if (strcmp(how, "thread") == 0) {
		pthread_t t;
		pthread_create(&t, NULL, crash, NULL);
		pthread_join(t, NULL);
	} else {
		fprintf(stderr, "fatal: unknown way to die %s\n", how);
		return 2;
	}
	printf("survived %s\n", how);
	return 1;
}

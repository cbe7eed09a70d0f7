/* sigint: sets its SIGINT disposition as argv[1] says (default, ignore or
 * handler), prints "ready" with the disposition it then has, and sleeps
 * in steps of 50 ms, 40 at most. It prints "caught SIGINT" when its
 * handler ran, "done" when the signal never came or was ignored. For the
 * tests of synod run's signal dispositions against qemu-hppa's.
 *
 * Rebuild (from this directory):
 *   hppa-linux-gnu-gcc -O2 -Wall -Wextra -static -s -o sigint sigint.c
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static volatile sig_atomic_t caught;

static void on_sigint(int sig)
{
	(void)sig;
	caught = 1;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "default";
	struct sigaction now;

	if (strcmp(mode, "ignore") == 0)
		signal(SIGINT, SIG_IGN);
	else if (strcmp(mode, "handler") == 0)
		signal(SIGINT, on_sigint);
	sigaction(SIGINT, NULL, &now);
	printf("ready: SIGINT %s\n", now.sa_handler == SIG_IGN ? "ignored" : now.sa_handler == SIG_DFL ? "default" : "handled");
	fflush(stdout);
	for (int i = 0; i < 40 && !caught; i++) {
		struct timespec step = {0, 50 * 1000 * 1000};
		nanosleep(&step, NULL);
	}
	puts(caught ? "caught SIGINT" : "done");
	return 0;
}

/* prefork: a pre-forking TCP server, the way many servers use processes.
 * The parent listens on port 7000, forks WORKERS workers that accept on
 * the shared socket, and waits for them. Each worker answers a line with
 * the line upper-cased, which worker (0, 1, ...) served it and how many
 * workers there are (fewer when a fork failed), then closes the
 * connection. The replica tests run it in a cluster: every
 * replica must agree on which worker serves what.
 *
 * Rebuild: hppa-linux-gnu-gcc -O2 -static -s -o prefork prefork.c
 */
#include <ctype.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define WORKERS 2

static void serve(int listener, int worker, int workers) {
	for (;;) {
		int c = accept(listener, NULL, NULL);
		if (c < 0)
			continue;
		char buf[256];
		size_t n = 0;
		while (n < sizeof buf - 1) {
			ssize_t r = read(c, buf + n, 1);
			if (r <= 0 || buf[n] == '\n')
				break;
			n++;
		}
		buf[n] = 0;
		for (size_t i = 0; i < n; i++)
			buf[i] = (char)toupper((unsigned char)buf[i]);
		char reply[320];
		int len = snprintf(reply, sizeof reply, "%s (worker %d of %d)\n", buf, worker, workers);
		write(c, reply, (size_t)len);
		close(c);
	}
}

int main(void) {
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(7000)};
	int one = 1;
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (s < 0 || bind(s, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(s, 16) != 0) {
		perror("prefork: listen");
		return 1;
	}
	/* The workers learn how many they are through a pipe, once all are
	 * forked. */
	int count[2];
	if (pipe(count) != 0)
		return 1;
	int workers = 0;
	for (int w = 0; w < WORKERS; w++) {
		pid_t pid = fork();
		if (pid == 0) {
			int n = 0;
			close(count[1]);
			read(count[0], &n, sizeof n);
			serve(s, w, n);
			return 0;
		}
		if (pid > 0)
			workers++;
	}
	for (int w = 0; w < workers; w++)
		write(count[1], &workers, sizeof workers);
	close(s);
	while (wait(NULL) > 0)
		;
	return 0;
}

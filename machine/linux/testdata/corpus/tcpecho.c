/* tcpecho: a TCP echo server and its clients in one process, over
 * loopback. The server binds port 0 (getsockname tells which port it got)
 * and serves every connection from a poll loop in its own thread; client
 * threads send messages of many sizes (up to 256 KiB, so reads and writes
 * come back partial), half-close with shutdown, and check what comes back.
 * Also: connecting to a closed port is refused, getpeername, socket
 * options read back, and accept4 flags.
 *
 * Rebuild: ./build.sh
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "corpus.h"

#define CLIENTS 3
#define MAXCONN 16

static int listener;
static struct sockaddr_in server_addr;

/* serve echoes on every accepted connection until `expected` connections
 * have come and gone. */
static void *serve(void *arg) {
	int expected = *(int *)arg, finished = 0;
	struct pollfd fds[MAXCONN + 1];
	int n = 1;
	fds[0] = (struct pollfd){.fd = listener, .events = POLLIN};
	char buf[8192];
	while (finished < expected) {
		if (poll(fds, (nfds_t)n, 20000) <= 0) {
			printf("server: poll timed out or failed\n");
			return NULL;
		}
		if (fds[0].revents & POLLIN) {
			int c = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
			if (c >= 0 && n <= MAXCONN) {
				fds[n++] = (struct pollfd){.fd = c, .events = POLLIN};
				CHECK((fcntl(c, F_GETFD) & FD_CLOEXEC) != 0);
			}
		}
		for (int i = 1; i < n; i++) {
			if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			ssize_t r = read(fds[i].fd, buf, sizeof buf);
			if (r > 0) {
				/* A blocking write of everything read. */
				for (ssize_t off = 0; off < r;) {
					ssize_t w = write(fds[i].fd, buf + off, (size_t)(r - off));
					if (w <= 0)
						break;
					off += w;
				}
				continue;
			}
			close(fds[i].fd);
			fds[i--] = fds[--n];
			finished++;
		}
	}
	return NULL;
}

static int dial(void) {
	int s = socket(AF_INET, SOCK_STREAM, 0);
	if (connect(s, (struct sockaddr *)&server_addr, sizeof server_addr) != 0) {
		printf("connect: %s\n", strerror(errno));
		exit(1);
	}
	return s;
}

/* exchange sends len bytes and reads the echo back; a writer thread is
 * not needed because the client reads as it goes. */
struct job {
	int id;
	uint32_t sent_sum, got_sum;
	size_t got;
};

static void *client(void *arg) {
	struct job *j = arg;
	int s = dial();
	int one = 1;
	setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	size_t len = (size_t)64 << (j->id * 6); /* 64 B, 4 KiB, 256 KiB */
	unsigned char *out = malloc(len), *in = malloc(len + 1);
	for (size_t i = 0; i < len; i++)
		out[i] = (unsigned char)(i * 7 + (size_t)j->id);
	j->sent_sum = fnv1a(FNV_INIT, out, len);
	size_t off = 0, got = 0;
	struct pollfd p = {.fd = s};
	while (got < len) {
		p.events = POLLIN | (off < len ? POLLOUT : 0);
		if (poll(&p, 1, 20000) <= 0)
			break;
		if ((p.revents & POLLOUT) && off < len) {
			ssize_t w = write(s, out + off, len - off > 16384 ? 16384 : len - off);
			if (w > 0)
				off += (size_t)w;
			if (off == len)
				shutdown(s, SHUT_WR);
		}
		if (p.revents & POLLIN) {
			ssize_t r = read(s, in + got, len + 1 - got);
			if (r <= 0)
				break;
			got += (size_t)r;
		}
	}
	/* After the half-close the server closes too: read sees end of file. */
	char extra;
	CHECK(read(s, &extra, 1) == 0);
	j->got = got;
	j->got_sum = fnv1a(FNV_INIT, in, got);
	close(s);
	free(out);
	free(in);
	return NULL;
}

int main(void) {
	setvbuf(stdout, NULL, _IOLBF, 0);
	listener = socket(AF_INET, SOCK_STREAM, 0);
	int one = 1, val = 0;
	socklen_t vlen = sizeof val;
	setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	getsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &val, &vlen);
	printf("SO_REUSEADDR reads back %d\n", val != 0);
	struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = 0, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	if (bind(listener, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(listener, 8) != 0) {
		printf("bind/listen: %s\n", strerror(errno));
		return 1;
	}
	socklen_t alen = sizeof server_addr;
	getsockname(listener, (struct sockaddr *)&server_addr, &alen);
	printf("bound to 127.0.0.1, port chosen by the kernel: %d\n", ntohs(server_addr.sin_port) != 0);

	int expected = CLIENTS + 1;
	pthread_t server;
	pthread_create(&server, NULL, serve, &expected);

	/* One short exchange from the main thread first, with getpeername. */
	int s = dial();
	struct sockaddr_in peer;
	socklen_t plen = sizeof peer;
	getpeername(s, (struct sockaddr *)&peer, &plen);
	printf("peer is the server: %d\n", peer.sin_port == server_addr.sin_port &&
						   peer.sin_addr.s_addr == htonl(INADDR_LOOPBACK));
	const char hello[] = "hello, echo";
	write(s, hello, sizeof hello);
	char back[sizeof hello];
	size_t got = 0;
	while (got < sizeof back) {
		ssize_t r = read(s, back + got, sizeof back - got);
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	printf("echoed: %s\n", got == sizeof back ? back : "(short)");
	close(s);

	pthread_t t[CLIENTS];
	struct job jobs[CLIENTS];
	for (int i = 0; i < CLIENTS; i++) {
		jobs[i] = (struct job){.id = i};
		pthread_create(&t[i], NULL, client, &jobs[i]);
	}
	for (int i = 0; i < CLIENTS; i++) {
		pthread_join(t[i], NULL);
		printf("client %d: %zu bytes back, checksum %08x, matches %d\n", i, jobs[i].got, jobs[i].got_sum,
		       jobs[i].got_sum == jobs[i].sent_sum);
	}
	pthread_join(server, NULL);
	close(listener);

	/* The listener is closed: its port refuses connections now. */
	int r = socket(AF_INET, SOCK_STREAM, 0);
	int rc = connect(r, (struct sockaddr *)&server_addr, sizeof server_addr);
	printf("connect to the closed port: %d %s\n", rc, rc == 0 ? "connected" : errno == ECONNREFUSED ? "ECONNREFUSED" : strerror(errno));
	close(r);
	return checks_report();
}

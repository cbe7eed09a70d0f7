/* kvd: the example guest of synod. A small in-memory key-value server that
 * speaks the Redis protocol (RESP2, and inline commands as typed into
 * telnet), so redis-cli and redis-benchmark work with it.
 *
 *   kvd [port [address]]     defaults: $KVD_PORT or 6379, $KVD_ADDR or 0.0.0.0
 *
 * Port 0 lets the kernel choose; the first line on stdout says where it
 * listens ("kvd: listening on 127.0.0.1:6379").
 *
 * Commands: PING ECHO SET (NX, XX, GET) GET DEL EXISTS INCR DECR INCRBY
 * DECRBY MGET MSET APPEND STRLEN DBSIZE FLUSHALL FLUSHDB SELECT 0 QUIT, and
 * COMMAND and CONFIG GET answered with empty lists for the tools that ask.
 * Keys do not expire.
 *
 * Inline requests are split at spaces and tabs (no quoting).
 *
 * One thread and a poll loop serve every client, so the server is simple
 * to reason about and replicates deterministically. Every client's memory
 * is bounded: a request larger than MAX_REQUEST or with more than MAX_ARGS
 * arguments is a protocol error; a client that does not read its replies
 * stops being served beyond OUT_PAUSE and is disconnected beyond
 * OUT_LIMIT. Garbage gets an error reply and the connection closed, as
 * Redis does; a client that goes away mid-request is forgotten.
 *
 * Rebuild: hppa-linux-gnu-gcc -O2 -Wall -Wextra -static -s -o kvd kvd.c
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_CLIENTS 1000
#define MAX_ARGS 1024
#define MAX_REQUEST (1024 * 1024)      /* bytes of one request, arguments included */
#define MAX_INLINE (64 * 1024)         /* bytes of one inline request line */
#define OUT_PAUSE (256 * 1024)         /* unsent reply bytes that pause reading a client */
#define OUT_LIMIT (16 * 1024 * 1024)   /* unsent reply bytes that disconnect a client */
#define MAX_MEMORY (256 * 1024 * 1024) /* bytes of keys and values in the store */
#define READ_CHUNK 16384

/* ---- growable byte buffers ---- */

struct buf {
	char *data;
	size_t len, cap;
};

/* buf_reserve makes room for n more bytes; it returns 0 when memory is out. */
static int buf_reserve(struct buf *b, size_t n) {
	if (b->len + n <= b->cap)
		return 1;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < b->len + n)
		cap *= 2;
	char *p = realloc(b->data, cap);
	if (p == NULL)
		return 0;
	b->data = p;
	b->cap = cap;
	return 1;
}

static void buf_free(struct buf *b) {
	free(b->data);
	*b = (struct buf){0};
}

/* ---- the store: a chained hash table of binary-safe keys and values ---- */

struct entry {
	struct entry *next;
	uint32_t hash;
	size_t klen, vlen;
	char data[]; /* key, then value */
};

static struct {
	struct entry **slots;
	size_t nslots, count, memory;
} db;

static uint32_t hash_bytes(const char *p, size_t n) {
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)p[i];
		h *= 16777619u;
	}
	return h;
}

static size_t entry_size(size_t klen, size_t vlen) { return sizeof(struct entry) + klen + vlen; }

static struct entry **db_find(const char *key, size_t klen, uint32_t h) {
	if (db.nslots == 0)
		return NULL;
	struct entry **at = &db.slots[h & (db.nslots - 1)];
	for (; *at; at = &(*at)->next)
		if ((*at)->hash == h && (*at)->klen == klen && memcmp((*at)->data, key, klen) == 0)
			return at;
	return at;
}

static struct entry *db_get(const char *key, size_t klen) {
	struct entry **at = db_find(key, klen, hash_bytes(key, klen));
	return at ? *at : NULL;
}

static void db_grow(void) {
	size_t n = db.nslots ? db.nslots * 2 : 64;
	struct entry **slots = calloc(n, sizeof *slots);
	if (slots == NULL)
		return; /* keep the longer chains */
	for (size_t i = 0; i < db.nslots; i++)
		for (struct entry *e = db.slots[i], *next; e; e = next) {
			next = e->next;
			e->next = slots[e->hash & (n - 1)];
			slots[e->hash & (n - 1)] = e;
		}
	free(db.slots);
	db.slots = slots;
	db.nslots = n;
}

/* db_set stores value under key; it returns 0 when the memory limit or
 * the allocator refuses. */
static int db_set(const char *key, size_t klen, const char *val, size_t vlen) {
	uint32_t h = hash_bytes(key, klen);
	if (db.count >= db.nslots)
		db_grow();
	if (db.nslots == 0)
		return 0;
	struct entry **at = db_find(key, klen, h), *old = *at;
	size_t old_size = old ? entry_size(old->klen, old->vlen) : 0;
	if (db.memory - old_size + entry_size(klen, vlen) > MAX_MEMORY)
		return 0;
	struct entry *e = malloc(entry_size(klen, vlen));
	if (e == NULL)
		return 0;
	e->hash = h;
	e->klen = klen;
	e->vlen = vlen;
	memcpy(e->data, key, klen);
	memcpy(e->data + klen, val, vlen);
	e->next = old ? old->next : NULL;
	*at = e;
	if (old)
		free(old);
	else
		db.count++;
	db.memory += entry_size(klen, vlen) - old_size;
	return 1;
}

static int db_del(const char *key, size_t klen) {
	struct entry **at = db_find(key, klen, hash_bytes(key, klen));
	if (at == NULL || *at == NULL)
		return 0;
	struct entry *e = *at;
	*at = e->next;
	db.memory -= entry_size(e->klen, e->vlen);
	db.count--;
	free(e);
	return 1;
}

static void db_flush(void) {
	for (size_t i = 0; i < db.nslots; i++)
		for (struct entry *e = db.slots[i], *next; e; e = next) {
			next = e->next;
			free(e);
		}
	free(db.slots);
	db.slots = NULL;
	db.nslots = db.count = db.memory = 0;
}

/* ---- clients and replies ---- */

struct arg {
	const char *p;
	size_t len;
};

struct client {
	int fd;
	struct buf in, out;
	size_t out_sent;
	int eof;     /* the client sent everything it will send */
	int paused;  /* requests wait in the input until replies drain below OUT_PAUSE */
	int closing; /* close once the replies are sent (QUIT, protocol error) */
	int dead;    /* close now, without sending more */
};

static struct client *clients[MAX_CLIENTS];
static int nclients;

static size_t unsent(const struct client *c) { return c->out.len - c->out_sent; }

static void reply_bytes(struct client *c, const char *p, size_t n) {
	if (c->dead)
		return;
	if (unsent(c) + n > OUT_LIMIT || !buf_reserve(&c->out, n)) {
		c->dead = 1;
		return;
	}
	memcpy(c->out.data + c->out.len, p, n);
	c->out.len += n;
}

static void replyf(struct client *c, const char *fmt, ...) {
	char line[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	if (n >= (int)sizeof line)
		n = sizeof line - 1;
	reply_bytes(c, line, (size_t)n);
}

static void reply_ok(struct client *c) { reply_bytes(c, "+OK\r\n", 5); }
static void reply_null(struct client *c) { reply_bytes(c, "$-1\r\n", 5); }
static void reply_int(struct client *c, long long v) { replyf(c, ":%lld\r\n", v); }

static void reply_bulk(struct client *c, const char *p, size_t n) {
	replyf(c, "$%zu\r\n", n);
	reply_bytes(c, p, n);
	reply_bytes(c, "\r\n", 2);
}

/* reply_error sends "-ERR ...": the text must not hold CR or LF, so
 * quoted user input goes through quote_arg. */
static void reply_error(struct client *c, const char *fmt, ...) {
	char line[480];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	replyf(c, "-ERR %s\r\n", line);
}

/* quote_arg copies a printable, shortened form of an argument into out. */
static const char *quote_arg(struct arg a, char *out, size_t size) {
	size_t n = 0;
	for (size_t i = 0; i < a.len && n + 4 < size; i++) {
		unsigned char ch = (unsigned char)a.p[i];
		out[n++] = ch >= 32 && ch < 127 && ch != '\'' ? (char)ch : '?';
	}
	out[n] = 0;
	return out;
}

/* ---- commands ---- */

static int arg_is(struct arg a, const char *word) { return a.len == strlen(word) && strncasecmp(a.p, word, a.len) == 0; }

/* parse_ll reads a whole argument as a decimal long long, the way Redis
 * does: optional '-', no '+', no spaces, no leading zeros. */
static int parse_ll(const char *p, size_t n, long long *out) {
	if (n == 0 || n > 20)
		return 0;
	size_t i = 0;
	int neg = p[0] == '-';
	if (neg)
		i++;
	if (i == n || (p[i] == '0' && n - i > 1) || (neg && p[i] == '0'))
		return 0;
	unsigned long long v = 0;
	for (; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return 0;
		unsigned d = (unsigned)(p[i] - '0');
		if (v > (ULLONG_MAX - d) / 10)
			return 0;
		v = v * 10 + d;
	}
	if (neg) {
		if (v > (unsigned long long)LLONG_MAX + 1)
			return 0;
		*out = v == (unsigned long long)LLONG_MAX + 1 ? LLONG_MIN : -(long long)v;
	} else {
		if (v > (unsigned long long)LLONG_MAX)
			return 0;
		*out = (long long)v;
	}
	return 1;
}

static void cmd_ping(struct client *c, int argc, struct arg *argv) {
	if (argc == 1)
		reply_bytes(c, "+PONG\r\n", 7);
	else
		reply_bulk(c, argv[1].p, argv[1].len);
}

static void cmd_echo(struct client *c, int argc, struct arg *argv) {
	(void)argc;
	reply_bulk(c, argv[1].p, argv[1].len);
}

static void cmd_set(struct client *c, int argc, struct arg *argv) {
	int nx = 0, xx = 0, get = 0;
	for (int i = 3; i < argc; i++) {
		if (arg_is(argv[i], "nx"))
			nx = 1;
		else if (arg_is(argv[i], "xx"))
			xx = 1;
		else if (arg_is(argv[i], "get"))
			get = 1;
		else if (arg_is(argv[i], "ex") || arg_is(argv[i], "px") || arg_is(argv[i], "exat") ||
			 arg_is(argv[i], "pxat") || arg_is(argv[i], "keepttl")) {
			reply_error(c, "kvd does not expire keys");
			return;
		} else {
			reply_error(c, "syntax error");
			return;
		}
	}
	if (nx && xx) {
		reply_error(c, "syntax error");
		return;
	}
	struct entry *old = db_get(argv[1].p, argv[1].len);
	/* The old value is replied before it is replaced. */
	if (get) {
		if (old)
			reply_bulk(c, old->data + old->klen, old->vlen);
		else
			reply_null(c);
	}
	if ((nx && old) || (xx && !old)) {
		if (!get)
			reply_null(c);
		return;
	}
	if (!db_set(argv[1].p, argv[1].len, argv[2].p, argv[2].len)) {
		if (!get)
			replyf(c, "-OOM command not allowed when used memory > 'maxmemory'\r\n");
		return;
	}
	if (!get)
		reply_ok(c);
}

static void cmd_get(struct client *c, int argc, struct arg *argv) {
	(void)argc;
	struct entry *e = db_get(argv[1].p, argv[1].len);
	if (e)
		reply_bulk(c, e->data + e->klen, e->vlen);
	else
		reply_null(c);
}

static void cmd_del(struct client *c, int argc, struct arg *argv) {
	long long n = 0;
	for (int i = 1; i < argc; i++)
		n += db_del(argv[i].p, argv[i].len);
	reply_int(c, n);
}

static void cmd_exists(struct client *c, int argc, struct arg *argv) {
	long long n = 0;
	for (int i = 1; i < argc; i++)
		n += db_get(argv[i].p, argv[i].len) != NULL;
	reply_int(c, n);
}

static void incr_by(struct client *c, struct arg key, long long by) {
	struct entry *e = db_get(key.p, key.len);
	long long v = 0;
	if (e && !parse_ll(e->data + e->klen, e->vlen, &v)) {
		reply_error(c, "value is not an integer or out of range");
		return;
	}
	if ((by > 0 && v > LLONG_MAX - by) || (by < 0 && v < LLONG_MIN - by)) {
		reply_error(c, "increment or decrement would overflow");
		return;
	}
	v += by;
	char text[24];
	int n = snprintf(text, sizeof text, "%lld", v);
	if (!db_set(key.p, key.len, text, (size_t)n)) {
		replyf(c, "-OOM command not allowed when used memory > 'maxmemory'\r\n");
		return;
	}
	reply_int(c, v);
}

static void cmd_incr(struct client *c, int argc, struct arg *argv) {
	(void)argc;
	incr_by(c, argv[1], 1);
}

static void cmd_decr(struct client *c, int argc, struct arg *argv) {
	(void)argc;
	incr_by(c, argv[1], -1);
}

static void cmd_incrby(struct client *c, int argc, struct arg *argv) {
	(void)argc;
	long long by;
	if (!parse_ll(argv[2].p, argv[2].len, &by)) {
		reply_error(c, "value is not an integer or out of range");
		return;
	}
	incr_by(c, argv[1], by);
}

static void cmd_decrby(struct client *c, int argc, struct arg *argv) {
	(void)argc;
	long long by;
	if (!parse_ll(argv[2].p, argv[2].len, &by) || by == LLONG_MIN) {
		reply_error(c, "value is not an integer or out of range");
		return;
	}
	incr_by(c, argv[1], -by);
}

static void cmd_mget(struct client *c, int argc, struct arg *argv) {
	replyf(c, "*%d\r\n", argc - 1);
	for (int i = 1; i < argc; i++) {
		struct entry *e = db_get(argv[i].p, argv[i].len);
		if (e)
			reply_bulk(c, e->data + e->klen, e->vlen);
		else
			reply_null(c);
	}
}

static void cmd_mset(struct client *c, int argc, struct arg *argv) {
	if (argc % 2 == 0) {
		reply_error(c, "wrong number of arguments for 'mset' command");
		return;
	}
	for (int i = 1; i < argc; i += 2)
		if (!db_set(argv[i].p, argv[i].len, argv[i + 1].p, argv[i + 1].len)) {
			replyf(c, "-OOM command not allowed when used memory > 'maxmemory'\r\n");
			return;
		}
	reply_ok(c);
}

static void cmd_append(struct client *c, int argc, struct arg *argv) {
	(void)argc;
	struct entry *e = db_get(argv[1].p, argv[1].len);
	size_t old = e ? e->vlen : 0, n = old + argv[2].len;
	if (n > MAX_REQUEST * 4) {
		reply_error(c, "string exceeds maximum allowed size");
		return;
	}
	char *joined = malloc(n ? n : 1);
	if (joined == NULL) {
		replyf(c, "-OOM command not allowed when used memory > 'maxmemory'\r\n");
		return;
	}
	if (e)
		memcpy(joined, e->data + e->klen, old);
	memcpy(joined + old, argv[2].p, argv[2].len);
	int ok = db_set(argv[1].p, argv[1].len, joined, n);
	free(joined);
	if (ok)
		reply_int(c, (long long)n);
	else
		replyf(c, "-OOM command not allowed when used memory > 'maxmemory'\r\n");
}

static void cmd_strlen(struct client *c, int argc, struct arg *argv) {
	(void)argc;
	struct entry *e = db_get(argv[1].p, argv[1].len);
	reply_int(c, e ? (long long)e->vlen : 0);
}

static void cmd_dbsize(struct client *c, int argc, struct arg *argv) {
	(void)argc, (void)argv;
	reply_int(c, (long long)db.count);
}

static void cmd_flushall(struct client *c, int argc, struct arg *argv) {
	if (argc == 2 && !arg_is(argv[1], "sync") && !arg_is(argv[1], "async")) {
		reply_error(c, "syntax error");
		return;
	}
	db_flush();
	reply_ok(c);
}

static void cmd_select(struct client *c, int argc, struct arg *argv) {
	(void)argc;
	if (arg_is(argv[1], "0"))
		reply_ok(c);
	else
		reply_error(c, "DB index is out of range");
}

static void cmd_quit(struct client *c, int argc, struct arg *argv) {
	(void)argc, (void)argv;
	reply_ok(c);
	c->closing = 1;
}

/* cmd_empty answers COMMAND and CONFIG GET, which redis-cli and
 * redis-benchmark send, with an empty list. */
static void cmd_empty(struct client *c, int argc, struct arg *argv) {
	(void)argc, (void)argv;
	reply_bytes(c, "*0\r\n", 4);
}

#define ANY MAX_ARGS

static const struct command {
	const char *name;
	int min, max; /* words in the request, the name included */
	void (*run)(struct client *, int, struct arg *);
} commands[] = {
	{"ping", 1, 2, cmd_ping},	    {"echo", 2, 2, cmd_echo},	      {"set", 3, ANY, cmd_set},
	{"get", 2, 2, cmd_get},		    {"del", 2, ANY, cmd_del},	      {"exists", 2, ANY, cmd_exists},
	{"incr", 2, 2, cmd_incr},	    {"decr", 2, 2, cmd_decr},	      {"incrby", 3, 3, cmd_incrby},
	{"decrby", 3, 3, cmd_decrby},	    {"mget", 2, ANY, cmd_mget},	      {"mset", 3, ANY, cmd_mset},
	{"append", 3, 3, cmd_append},	    {"strlen", 2, 2, cmd_strlen},     {"dbsize", 1, 1, cmd_dbsize},
	{"flushall", 1, 2, cmd_flushall}, {"flushdb", 1, 2, cmd_flushall}, {"select", 2, 2, cmd_select},
	{"quit", 1, ANY, cmd_quit},	    {"command", 1, ANY, cmd_empty},   {"config", 2, ANY, cmd_empty},
};

static void execute(struct client *c, int argc, struct arg *argv) {
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
		const struct command *cmd = &commands[i];
		if (!arg_is(argv[0], cmd->name))
			continue;
		if (argc < cmd->min || argc > cmd->max) {
			reply_error(c, "wrong number of arguments for '%s' command", cmd->name);
			return;
		}
		cmd->run(c, argc, argv);
		return;
	}
	char name[64], args[200] = "", one[40];
	size_t used = 0;
	for (int i = 1; i < argc && used + sizeof one + 4 < sizeof args; i++)
		used += (size_t)snprintf(args + used, sizeof args - used, "'%s' ", quote_arg(argv[i], one, sizeof one));
	reply_error(c, "unknown command '%s', with args beginning with: %s", quote_arg(argv[0], name, sizeof name), args);
}

/* ---- the protocol ---- */

enum parsed { NEED_MORE, PARSED, BAD };

/* parse_number reads "<digits>\r\n" at *p (at most 20 digits, optional
 * '-'), moving *p past it. Anything else is BAD as soon as it is seen. */
static enum parsed parse_number(const char **p, const char *end, long long *out) {
	const char *q = *p;
	for (; q < end && *q != '\r'; q++)
		if (q - *p == 21 || !((*q >= '0' && *q <= '9') || (*q == '-' && q == *p)))
			return BAD;
	if (q + 1 >= end)
		return NEED_MORE;
	if (q[1] != '\n' || !parse_ll(*p, (size_t)(q - *p), out))
		return BAD;
	*p = q + 2;
	return PARSED;
}

/* incomplete_or_error is parse_request's result for a header that is not
 * PARSED: 0 while more bytes may complete it, else -1 after the error. */
static long incomplete_or_error(struct client *c, enum parsed st, const char *what) {
	if (st == NEED_MORE)
		return 0;
	reply_error(c, "Protocol error: %s", what);
	return -1;
}

/* parse_request reads one request from [start, end) into argv. It returns
 * the bytes it used (0 while the request is incomplete), or -1 after
 * replying to c with a protocol error. */
static long parse_request(struct client *c, const char *start, const char *end, int *argc, struct arg *argv) {
	const char *p = start;
	*argc = 0;
	if (p == end)
		return 0;
	if (*p != '*') {
		/* An inline request: words separated by spaces, up to a newline. */
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL) {
			if (end - p > MAX_INLINE) {
				reply_error(c, "Protocol error: too big inline request");
				return -1;
			}
			return 0;
		}
		const char *line_end = nl > p && nl[-1] == '\r' ? nl - 1 : nl;
		while (p < line_end) {
			while (p < line_end && (*p == ' ' || *p == '\t'))
				p++;
			if (p == line_end)
				break;
			if (*argc == MAX_ARGS) {
				reply_error(c, "Protocol error: too many arguments");
				return -1;
			}
			const char *w = p;
			while (p < line_end && *p != ' ' && *p != '\t')
				p++;
			argv[(*argc)++] = (struct arg){w, (size_t)(p - w)};
		}
		return nl + 1 - start;
	}
	p++;
	long long n;
	enum parsed st = parse_number(&p, end, &n);
	if (st == PARSED && n > MAX_ARGS)
		st = BAD;
	if (st != PARSED)
		return incomplete_or_error(c, st, "invalid multibulk length");
	for (long long i = 0; i < n; i++) {
		if (p == end)
			return 0;
		if (*p != '$') {
			reply_error(c, "Protocol error: expected '$', got '%c'", *p >= 32 && *p < 127 ? *p : '?');
			return -1;
		}
		p++;
		long long len;
		st = parse_number(&p, end, &len);
		if (st == PARSED && (len < 0 || len > MAX_REQUEST))
			st = BAD;
		if (st != PARSED)
			return incomplete_or_error(c, st, "invalid bulk length");
		if (end - p < len + 2)
			return 0;
		if (p[len] != '\r' || p[len + 1] != '\n') {
			reply_error(c, "Protocol error: expected CRLF after the bulk string");
			return -1;
		}
		argv[(*argc)++] = (struct arg){p, (size_t)len};
		p += len + 2;
	}
	return p - start;
}

/* serve runs the complete requests in the client's input buffer, until
 * OUT_PAUSE bytes of replies wait to be sent. */
static void serve(struct client *c) {
	static struct arg argv[MAX_ARGS];
	size_t used = 0;
	for (c->paused = 0; !c->closing && !c->dead; ) {
		if (unsent(c) >= OUT_PAUSE) {
			c->paused = 1;
			break;
		}
		int argc;
		long n = parse_request(c, c->in.data + used, c->in.data + c->in.len, &argc, argv);
		if (n < 0) {
			c->closing = 1;
			break;
		}
		if (n == 0) {
			if (c->in.len - used > MAX_REQUEST) {
				reply_error(c, "Protocol error: request too big");
				c->closing = 1;
			}
			break;
		}
		used += (size_t)n;
		if (argc > 0)
			execute(c, argc, argv);
	}
	memmove(c->in.data, c->in.data + used, c->in.len - used);
	c->in.len -= used;
	if (c->in.len == 0 && c->in.cap > 4 * READ_CHUNK)
		buf_free(&c->in); /* a big request has passed: give its memory back */
}

/* ---- the event loop ---- */

static void drop(int i) {
	struct client *c = clients[i];
	close(c->fd);
	buf_free(&c->in);
	buf_free(&c->out);
	free(c);
	clients[i] = clients[--nclients];
}

static void flush_replies(struct client *c) {
	while (unsent(c) > 0 && !c->dead) {
		ssize_t w = send(c->fd, c->out.data + c->out_sent, unsent(c), MSG_NOSIGNAL);
		if (w < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				c->dead = 1;
			if (errno != EINTR)
				return;
			continue;
		}
		c->out_sent += (size_t)w;
	}
	c->out.len = c->out_sent = 0;
	if (c->out.cap > OUT_PAUSE)
		buf_free(&c->out); /* a big reply has gone: give its memory back */
}

static void read_requests(struct client *c) {
	if (!buf_reserve(&c->in, READ_CHUNK)) {
		c->dead = 1;
		return;
	}
	ssize_t r = read(c->fd, c->in.data + c->in.len, READ_CHUNK);
	if (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
		c->dead = 1;
		return;
	}
	if (r == 0)
		c->eof = 1; /* its complete requests are still answered; a partial one is dropped */
	if (r > 0)
		c->in.len += (size_t)r;
	serve(c);
}

static void accept_clients(int listener) {
	for (int i = 0; i < 64; i++) {
		int fd = accept(listener, NULL, NULL);
		if (fd < 0)
			return;
		if (nclients == MAX_CLIENTS) {
			static const char full[] = "-ERR max number of clients reached\r\n";
			send(fd, full, sizeof full - 1, MSG_NOSIGNAL);
			close(fd);
			continue;
		}
		struct client *c = calloc(1, sizeof *c);
		if (c == NULL) {
			close(fd);
			continue;
		}
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
		c->fd = fd;
		clients[nclients++] = c;
	}
}

static int listen_on(const char *addr, int port) {
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1) {
		fprintf(stderr, "kvd: bad IPv4 address %s\n", addr);
		return -1;
	}
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(fd, 128) != 0) {
		fprintf(stderr, "kvd: listen on %s:%d: %s\n", addr, port, strerror(errno));
		return -1;
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	socklen_t len = sizeof sa;
	getsockname(fd, (struct sockaddr *)&sa, &len);
	printf("kvd: listening on %s:%d\n", addr, ntohs(sa.sin_port));
	fflush(stdout);
	return fd;
}

int main(int argc, char **argv) {
	const char *port_text = argc > 1 ? argv[1] : getenv("KVD_PORT");
	const char *addr = argc > 2 ? argv[2] : getenv("KVD_ADDR");
	long long port = 6379;
	if (port_text && (!parse_ll(port_text, strlen(port_text), &port) || port < 0 || port > 65535)) {
		fprintf(stderr, "usage: kvd [port [address]]: bad port %s\n", port_text);
		return 2;
	}
	int listener = listen_on(addr ? addr : "0.0.0.0", (int)port);
	if (listener < 0)
		return 1;
	signal(SIGPIPE, SIG_IGN);

	static struct pollfd fds[MAX_CLIENTS + 1];
	for (;;) {
		fds[0] = (struct pollfd){.fd = listener, .events = POLLIN};
		for (int i = 0; i < nclients; i++) {
			struct client *c = clients[i];
			short ev = 0;
			if (!c->closing && !c->eof && unsent(c) < OUT_PAUSE)
				ev |= POLLIN;
			if (unsent(c) > 0)
				ev |= POLLOUT;
			fds[i + 1] = (struct pollfd){.fd = c->fd, .events = ev};
		}
		int n = nclients;
		if (poll(fds, (nfds_t)n + 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			perror("kvd: poll");
			return 1;
		}
		/* Walk backwards: drop() moves the last client into the hole. */
		for (int i = n - 1; i >= 0; i--) {
			struct client *c = clients[i];
			short rev = fds[i + 1].revents;
			if (rev & (POLLIN | POLLHUP | POLLERR))
				read_requests(c);
			flush_replies(c);
			/* Each round answers waiting requests or stops at a full
			 * socket, so the loop ends. */
			while (c->paused && !c->dead && unsent(c) < OUT_PAUSE) {
				serve(c);
				flush_replies(c);
			}
			/* serve stops early only while replies are unsent, so an
			 * ended client with none left has nothing more to get. */
			if (c->dead || ((c->closing || c->eof) && unsent(c) == 0))
				drop(i);
		}
		if (fds[0].revents & POLLIN)
			accept_clients(listener);
	}
}

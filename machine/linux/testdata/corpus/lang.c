/* lang: C language features on the stack and in memory layout.
 * Recursion 12 MiB deep (the main stack grows beyond the 8 MiB it starts
 * with, up to 80 MiB as under qemu-hppa; the deepest frame is first
 * written by a system call), alloca and two-dimensional VLAs, variadic
 * functions taking structs, doubles and long longs (va_copy,
 * vsnprintf), bit fields up to 40 bits wide in 64-bit containers,
 * packed and large structs copied and returned by value, a sparse switch
 * with a jump table and a compare tree, GCC's overflow builtins and
 * clrsb, and string.h and ctype.h over a 4 KiB text.
 *
 * Rebuild: ./build.sh (built at -O0, -O2 and -O3)
 */
#define _GNU_SOURCE
#include <alloca.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include "corpus.h"

/* Each level holds a kilobyte, so 12000 levels need about 12 MiB. */
enum { frameBytes = 1024, deepest = 12000 };

static int deep(int n) {
	volatile char pad[frameBytes];
	pad[0] = (char)n;
	pad[frameBytes - 1] = (char)(n >> 8);
	if (n == deepest) {
		struct utsname u; /* first touched by the kernel */
		if (uname(&u) != 0)
			return -1;
		return (int)strlen(u.sysname);
	}
	return deep(n + 1) + (pad[0] == (char)n) + (pad[frameBytes - 1] == (char)(n >> 8)) - 2;
}

static unsigned vla(int n) {
	int grid[n][n + 1];
	for (int i = 0; i < n; i++)
		for (int j = 0; j <= n; j++)
			grid[i][j] = i * 31 + j;
	unsigned s = 0;
	for (int i = 0; i < n; i++)
		for (int j = 0; j <= n; j++)
			s = s * 7 + grid[i][j];
	char *text = alloca(n * 100 + 1);
	memset(text, 'x', n * 100);
	text[n * 100] = 0;
	return s + strlen(text) + sizeof grid;
}

struct small {
	char c;
	short s;
};
struct big {
	int a[17];
	double d;
	char c;
	long long ll;
};

static struct small make_small(int x) { return (struct small){(char)x, (short)(x * 3)}; }

static struct big make_big(int seed) {
	struct big b;
	for (int i = 0; i < 17; i++)
		b.a[i] = seed * i;
	b.d = seed / 3.0;
	b.c = (char)seed;
	b.ll = (long long)seed << 40;
	return b;
}

static struct big combine(struct big b, struct small s, double scale) {
	b.a[3] += s.s;
	b.d = b.d * scale + s.c;
	b.c ^= s.c;
	return b;
}

/* sum adds up n tagged arguments: 0 int, 1 long long, 2 double,
 * 3 struct small, 4 struct big, 5 string length. */
static double sum(int n, ...) {
	va_list ap;
	va_start(ap, n);
	double total = 0;
	for (int i = 0; i < n; i++) {
		switch (va_arg(ap, int)) {
		case 0:
			total += va_arg(ap, int);
			break;
		case 1:
			total += (double)va_arg(ap, long long);
			break;
		case 2:
			total += va_arg(ap, double);
			break;
		case 3: {
			struct small s = va_arg(ap, struct small);
			total += s.c + s.s;
			break;
		}
		case 4: {
			struct big b = va_arg(ap, struct big);
			total += b.a[16] + (double)b.ll;
			break;
		}
		default:
			total += strlen(va_arg(ap, char *));
		}
	}
	va_end(ap);
	return total;
}

static int format_twice(char *buf, size_t size, const char *fmt, ...) {
	va_list ap, again;
	va_start(ap, fmt);
	va_copy(again, ap);
	int n = vsnprintf(buf, size, fmt, ap);
	int m = vsnprintf(NULL, 0, fmt, again);
	va_end(again);
	va_end(ap);
	return n == m ? n : -1;
}

struct fields {
	unsigned a : 3;
	signed b : 5;
	unsigned c : 13;
	signed d : 11;
	unsigned long long e : 40;
	signed long long f : 23;
	_Bool g : 1;
};

struct __attribute__((packed)) packed {
	char c;
	int i;
	short s;
	long long l;
};

static void layouts(void) {
	volatile struct fields f = {0};
	uint32_t h = FNV_INIT;
	for (int i = 0; i < 300; i++) {
		f.a += i;
		f.b -= i * 3;
		f.c ^= i * 1237;
		f.d += i * 77;
		f.e += (unsigned long long)i << 33 | i;
		f.f -= i * 99991;
		f.g = !f.g;
		h = fnv_u64(h, (uint64_t)f.a << 48 ^ (uint64_t)(int64_t)f.b << 40 ^ (uint64_t)f.c << 24 ^ (uint64_t)(int64_t)f.d);
		h = fnv_u64(h, f.e ^ (uint64_t)(int64_t)f.f << 1 ^ f.g);
	}
	printf("bit fields %08x: %u %d %u %d %llx %lld %d (sizeof %zu)\n", h, f.a, f.b, f.c, f.d, (unsigned long long)f.e,
	       (long long)f.f, f.g, sizeof f);
	struct big b = combine(make_big(7), make_small(300), 1.5), copy = b;
	copy.a[16] = 99;
	printf("struct by value: %d %d %a %d %lld, copy %d\n", b.a[3], b.a[16], b.d, b.c, b.ll, copy.a[16]);
	struct packed p = {1, 0x12345678, 0x2345, 0x123456789abcdefLL}, q;
	memcpy(&q, &p, sizeof p);
	q.i += 1;
	q.l -= 1;
	printf("packed: sizeof %zu %d %x %x %llx\n", sizeof p, q.c, q.i, q.s, (unsigned long long)q.l);
	printf("variadic: %a\n", sum(7, 0, 5, 1, 1LL << 40, 2, 0.25, 3, make_small(9), 4, make_big(3), 5, "hello", 0, -1));
	char buf[128];
	int n = format_twice(buf, sizeof buf, "%d %s %f %lld %c", 1, "x", 2.5, -5LL, 'q');
	printf("va_copy: %d [%s]\n", n, buf);
}

static int sparse(unsigned x) {
	switch (x) {
	case 0: return 11;
	case 1: return 22;
	case 2: return 33;
	case 3: return 44;
	case 4: return 55;
	case 5: return 66;
	case 6: return 77;
	case 7: return 88;
	case 8: return 99;
	case 9: return 111;
	case 10: return 122;
	case 11: return 133;
	case 100: return 1;
	case 1000: return 2;
	case 5000: return 3;
	case 65536: return 4;
	case 1u << 20: return 5;
	case 0xffffffffu: return 6;
	}
	return -1;
}

static void builtins(void) {
	uint32_t h = FNV_INIT;
	for (unsigned x = 0; x < 70000; x++)
		h = fnv_u64(h, (uint64_t)(sparse(x) & 0xff));
	printf("switch %08x %d %d\n", h, sparse(1u << 20), sparse(0xffffffffu));
	static const long long seeds[] = {0, 1, -1, 0x7fffffff, 0x80000000LL, INT64_MAX, INT64_MIN, 0x0123456789abcdefLL};
	for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++) {
		long long v = seeds[i], r;
		int w = (int)v;
		unsigned ur;
		int mul = __builtin_mul_overflow(v, 3LL, &r);
		long long mulr = r;
		int add = __builtin_add_overflow(v, v, &r);
		int sub = __builtin_sub_overflow((unsigned)w, 5u, &ur);
		printf("%llx: mul %d %llx add %d %llx sub %d %x clrsb %d clrsbll %d\n", (unsigned long long)v, mul,
		       (unsigned long long)mulr, add, (unsigned long long)r, sub, ur, __builtin_clrsb(w), __builtin_clrsbll(v));
	}
}

static void text(void) {
	unsigned classes[12] = {0};
	for (int c = -1; c < 256; c++) {
		classes[0] += !!isalpha(c);
		classes[1] += !!isdigit(c);
		classes[2] += !!isspace(c);
		classes[3] += !!ispunct(c);
		classes[4] += !!isprint(c);
		classes[5] += !!iscntrl(c);
		classes[6] += !!isxdigit(c);
		classes[7] += !!isupper(c);
		classes[8] += !!islower(c);
		classes[9] += toupper(c);
		classes[10] += tolower(c);
		classes[11] += !!isgraph(c);
	}
	printf("ctype:");
	for (int i = 0; i < 12; i++)
		printf(" %u", classes[i]);
	printf("\n");
	static char doc[4096], copy[4096];
	for (int i = 0; i < 4095; i++)
		doc[i] = " abcdefghij,.ABC\t0123"[(i * 7 + i / 13) % 21];
	strcpy(copy, doc);
	int tokens = 0;
	uint32_t h = FNV_INIT;
	char *save;
	for (char *tok = strtok_r(copy, " ,.\t", &save); tok; tok = strtok_r(NULL, " ,.\t", &save)) {
		tokens++;
		h = fnv1a(h, tok, strlen(tok));
	}
	printf("strtok_r %d tokens %08x strspn %zu strcspn %zu strpbrk %td strrchr %td strstr %td memchr %td memrchr %td\n", tokens,
	       h, strspn(doc, " abc"), strcspn(doc, "0"), strpbrk(doc, "ABC") - doc, strrchr(doc, 'j') - doc,
	       strstr(doc, "ij,") ? strstr(doc, "ij,") - doc : -1, (char *)memchr(doc, '3', sizeof doc) - doc,
	       (char *)memrchr(doc, 'a', 4095) - doc);
	printf("strcasecmp %d strncasecmp %d strverscmp %d strnlen %zu\n", strcasecmp("HeLLo", "hello"), strncasecmp("abcX", "ABCY", 3),
	       strverscmp("file10", "file9") > 0, strnlen(doc, 3000));
	char *dup = strndup(doc + 100, 10);
	printf("strndup [%s]\n", dup);
	free(dup);
}

int main(void) {
	printf("recursion %d levels of %d bytes: %d\n", deepest, frameBytes, deep(0));
	for (int n = 1; n < 40; n += 9)
		printf("vla %d: %u\n", n, vla(n));
	layouts();
	builtins();
	text();
	return 0;
}

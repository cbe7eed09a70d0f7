/* funcptr: calls. Function pointer tables and callbacks (indirect calls go
 * through the $$dyncall millicode), the calling convention with many
 * arguments (the rest on the stack), 64-bit and double arguments in
 * register pairs, structs passed and returned by value, variadic
 * functions, mutual recursion, and a GCC nested function, whose
 * trampoline is code written to the stack at run time.
 *
 * Rebuild: ./build.sh (built at -O0 and -O2)
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "corpus.h"

typedef long (*binop)(long, long);

static long add(long a, long b) { return a + b; }
static long sub(long a, long b) { return a - b; }
static long mul(long a, long b) { return a * b; }
static long maxl(long a, long b) { return a > b ? a : b; }
static long shl(long a, long b) { return a << (b & 15); }

static binop ops[] = {add, sub, mul, maxl, shl};

static long fold(binop f, const long *v, int n, long acc) {
	for (int i = 0; i < n; i++)
		acc = f(acc, v[i]);
	return acc;
}

/* Eleven mixed arguments: four words in registers, the rest on the stack;
 * the long long and the doubles take aligned register pairs or slots. */
static double many(int a, long long b, double c, char d, short e, float f, int g, long long h, double i,
		   unsigned char j, int k) {
	return a + (double)b + c + d + e + f + g + (double)h + i + j + k;
}

struct small {
	short x;
	char tag;
};

struct pair {
	int64_t a;
	double b;
};

struct big {
	int v[9];
	char name[7];
};

static struct small make_small(short x, char tag) { return (struct small){x, tag}; }

static struct pair swap_pair(struct pair p) {
	struct pair r = {(int64_t)p.b, (double)p.a};
	return r;
}

static struct big grow(struct big b, int by) {
	for (int i = 0; i < 9; i++)
		b.v[i] += by * i;
	b.name[0]++;
	return b;
}

static long sum_variadic(int count, ...) {
	va_list ap;
	va_start(ap, count);
	long total = 0;
	for (int i = 0; i < count; i++) {
		switch (va_arg(ap, int)) {
		case 'i':
			total += va_arg(ap, int);
			break;
		case 'l':
			total += (long)va_arg(ap, long long);
			break;
		case 'd':
			total += (long)(va_arg(ap, double) * 100);
			break;
		case 's':
			total += (long)strlen(va_arg(ap, const char *));
			break;
		}
	}
	va_end(ap);
	return total;
}

static int is_odd(unsigned n);
static int is_even(unsigned n) { return n == 0 ? 1 : is_odd(n - 1); }
static int is_odd(unsigned n) { return n == 0 ? 0 : is_even(n - 1); }

static unsigned long ackermann(unsigned long m, unsigned long n) {
	if (m == 0)
		return n + 1;
	if (n == 0)
		return ackermann(m - 1, 1);
	return ackermann(m - 1, ackermann(m, n - 1));
}

static void apply_all(void (*f)(int), int n) {
	for (int i = 0; i < n; i++)
		f(i);
}

static int nested_function(int base) {
	int total = 0;
	/* A GCC extension: the address of a nested function is a trampoline
	 * on the stack that loads the static chain and jumps. */
	void visit(int i) { total += base * i; }
	apply_all(visit, 10);
	return total;
}

int main(void) {
	static volatile long values[] = {3, -7, 12, 5, 1, 9, -2, 4};
	long v[8];
	for (int i = 0; i < 8; i++)
		v[i] = values[i];
	for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
		printf("fold op%zu = %ld\n", i, fold(ops[i], v, 8, (long)i));

	volatile int ai = 1;
	printf("many = %.4f\n", many(ai, 1ll << 40, 0.5, 'A', -300, 1.25f, 7, -3ll, 1e-3, 200, -9));

	struct small s = make_small(-1234, 'q');
	struct pair p = swap_pair((struct pair){-5, 123.75});
	struct big b = {{1, 2, 3, 4, 5, 6, 7, 8, 9}, "bigone"};
	struct big g = grow(b, 10);
	printf("small %d %c pair %lld %g big %d %d %s (orig %d %s)\n", s.x, s.tag, (long long)p.a, p.b, g.v[0], g.v[8],
	       g.name, b.v[8], b.name);

	printf("variadic %ld\n", sum_variadic(6, 'i', 40, 'l', 1ll << 33, 'd', 2.5, 's', "hello", 'i', -2, 'd', -0.125));
	printf("even(1001) %d odd(777) %d ackermann(2,3) %lu ackermann(3,3) %lu\n", is_even(1001), is_odd(777),
	       ackermann(2, 3), ackermann(3, 3));
	int n = nested_function(3);
	printf("nested function total %d\n", n);
	CHECK(n == 135);

	/* The same function reached through different pointer expressions is
	 * the same pointer. */
	binop f1 = add, f2 = &add, f3 = ops[0];
	CHECK(f1 == f2 && f2 == f3);
	return checks_report();
}

/* ctors: what runs before and after main. Constructors with priorities
 * (they run in priority order before main), destructors (reverse order
 * after exit), atexit handlers (reverse order of registration, one
 * registered from inside another), and stdio buffers flushed at exit.
 * The output is fully buffered (stdout is a pipe or file in the tests), so
 * a missing flush at exit shows as missing lines.
 *
 * Rebuild: ./build.sh
 */
#include <stdio.h>
#include <stdlib.h>

static int order;
static int seen[8];

__attribute__((constructor(200))) static void ctor_200(void) {
	seen[0] = ++order;
	printf("constructor 200 runs %d\n", order);
}

__attribute__((constructor(101))) static void ctor_101(void) {
	seen[1] = ++order;
	printf("constructor 101 runs %d\n", order);
}

__attribute__((constructor)) static void ctor_default(void) {
	seen[2] = ++order;
	printf("constructor (default priority) runs %d\n", order);
}

__attribute__((destructor(101))) static void dtor_101(void) { printf("destructor 101 runs last\n"); }

__attribute__((destructor(200))) static void dtor_200(void) { printf("destructor 200 runs before 101\n"); }

static void late(void) { printf("atexit handler registered during exit runs\n"); }

static void first_registered(void) { printf("atexit first registered, runs last of the handlers\n"); }

static void second_registered(void) {
	printf("atexit second registered, runs first; registers another\n");
	atexit(late);
}

static void with_arg(int status, void *arg) { printf("on_exit status %d arg %s\n", status, (const char *)arg); }

int main(int argc, char **argv) {
	(void)argv;
	printf("main sees constructors in order %d %d %d\n", seen[1], seen[0], seen[2]);
	atexit(first_registered);
	on_exit(with_arg, "on-exit-arg");
	atexit(second_registered);
	/* Unflushed on purpose: exit must flush it. */
	printf("main exits with status %d\n", 3 + argc);
	exit(3 + argc);
}

/* mallocs: allocates memory and writes to it until malloc fails, first in
 * 1 MiB blocks (which glibc maps with mmap), then in 1000-byte ones (from
 * the heap, which grows with brk), and prints how far each got and why it
 * stopped. Under synod run --memory 64M it must stop with ENOMEM, not be
 * killed.
 *
 * Rebuild (from this directory):
 *   hppa-linux-gnu-gcc -O2 -static -s -o mallocs mallocs.c
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void fill(size_t size, const char *what)
{
	size_t total = 0;
	for (;;) {
		char *p = malloc(size);
		if (p == NULL) {
			int e = errno;
			printf("%s: malloc failed after %zu KiB: %s\n", what, total >> 10, strerror(e));
			return;
		}
		memset(p, 1, size);
		total += size;
	}
}

int main(void)
{
	fill(1 << 20, "blocks");
	fill(1000, "small");
	return 0;
}

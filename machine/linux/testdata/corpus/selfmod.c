/* selfmod: code written at run time, as a JIT writes it. Builds tiny
 * functions in an executable mapping, calls them, rewrites them in place
 * (the instruction in a branch's delay slot, and a whole function body
 * replaced by another) and calls them again, a thousand times over; an
 * emulator that caches decoded instructions must see every rewrite. After
 * each rewrite the program flushes the caches itself with fdc, sync and
 * fic (the user-mode cache instructions), as real hardware needs:
 * __builtin___clear_cache emits nothing on hppa-linux.
 *
 * Rebuild: ./build.sh
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "corpus.h"

#define BV_RP 0xe840c000u /* bv %r0(%rp): return */
#define NOP 0x08000240u	  /* or %r0,%r0,%r0 */

/* ldi imm,%ret0 (ldo imm(%r0),%r28); imm fits 13 bits and a sign. */
static uint32_t ldi_ret0(int imm) {
	uint32_t im14 = ((uint32_t)imm << 1 & 0x3ffe) | (imm < 0);
	return 0x34000000u | 28u << 16 | im14;
}

/* addi imm,%r26,%ret0 (ldo imm(%arg0),%r28): return the first argument plus imm. */
static uint32_t add_arg0_ret0(int imm) { return ldi_ret0(imm) | 26u << 21; }

typedef int (*fn0)(void);
typedef int (*fn1)(int);

/* CACHE_LINE is the smallest PA-RISC 1.1 cache line: flushing at this
 * stride reaches every line whatever the real size is. */
#define CACHE_LINE 16

static void emit(uint32_t *at, const uint32_t *words, size_t n) {
	memcpy(at, words, n * sizeof *words);
	uintptr_t first = (uintptr_t)at & ~(uintptr_t)(CACHE_LINE - 1), end = (uintptr_t)(at + n);
	for (uintptr_t line = first; line < end; line += CACHE_LINE)
		__asm__ volatile("fdc 0(%0)\n\tsync\n\tfic 0(%%sr4,%0)\n\tsync" : : "r"(line) : "memory");
}

int main(void) {
	uint32_t *code = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (code == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	/* return imm, with the ldi in the delay slot of the return */
	uint32_t ret_const[] = {BV_RP, ldi_ret0(7)};
	emit(code, ret_const, 2);
	fn0 f = (fn0)(uintptr_t)code;
	printf("first body returns %d\n", f());

	long sum = 0;
	int wrong = 0;
	for (int i = -1000; i < 1000; i++) {
		uint32_t slot = ldi_ret0(i);
		emit(code + 1, &slot, 1);
		int r = f();
		sum += r;
		wrong += r != i;
	}
	printf("1000 delay-slot rewrites: sum %ld, wrong %d\n", sum, wrong);
	CHECK(wrong == 0);

	/* Replace the whole body: first a nop then the return with an add in
	 * its slot, then back to a constant. */
	uint32_t adder[] = {NOP, BV_RP, add_arg0_ret0(100)};
	emit(code, adder, 3);
	fn1 g = (fn1)(uintptr_t)code;
	printf("adder(23) = %d\n", g(23));
	emit(code, ret_const, 2);
	printf("constant again: %d\n", f());
	CHECK(f() == 7);

	/* Many small functions side by side, each rewritten once. */
	for (int k = 0; k < 64; k++) {
		uint32_t body[] = {BV_RP, ldi_ret0(k * 3)};
		emit(code + 2 * k, body, 2);
	}
	long total = 0;
	for (int k = 0; k < 64; k++)
		total += ((fn0)(uintptr_t)(code + 2 * k))();
	for (int k = 0; k < 64; k++) {
		uint32_t slot = ldi_ret0(-k);
		emit(code + 2 * k + 1, &slot, 1);
	}
	for (int k = 0; k < 64; k++)
		total += ((fn0)(uintptr_t)(code + 2 * k))();
	printf("64 functions, before and after: total %ld\n", total);
	CHECK(total == 3 * 2016 - 2016);

	/* Once made read-only and executable, the code still runs. */
	CHECK(mprotect(code, 4096, PROT_READ | PROT_EXEC) == 0);
	printf("after mprotect: %d\n", ((fn0)(uintptr_t)(code + 2 * 5))());
	munmap(code, 4096);
	return checks_report();
}

/* switch: multiway branches. A dense switch GCC compiles to a jump table
 * (blr into a table of branches), a sparse one it compiles to a compare
 * tree, computed goto (labels as values), and a small bytecode
 * interpreter built on them that runs a loop program.
 *
 * Rebuild: ./build.sh (built at -O0, -O2 and -O3)
 */
#include <stdint.h>
#include <stdio.h>

#include "corpus.h"

static uint32_t dense(uint32_t x, int sel) {
	switch (sel) {
	case 0: return x + 1;
	case 1: return x * 3;
	case 2: return x ^ 0x5a5a5a5a;
	case 3: return x >> 3;
	case 4: return x << 5;
	case 5: return ~x;
	case 6: return x - 77;
	case 7: return x * x;
	case 8: return x | 0x10001;
	case 9: return x & 0xff00ff;
	case 10: return x / 7;
	case 11: return x % 1000;
	case 12: return (x << 16) | (x >> 16);
	case 13: return x + 0x12345;
	case 14: return x * 0x9e3779b9u;
	case 15: return x - (x >> 2);
	case 16: return x ? x - 1 : 0;
	case 17: return x ^ (x >> 7);
	case 18: return x + (x << 9);
	case 19: return 19;
	default: return x + 1000000;
	}
}

static int sparse(int32_t key) {
	switch (key) {
	case -100000: return 1;
	case -7: return 2;
	case 0: return 3;
	case 13: return 4;
	case 1000: return 5;
	case 65536: return 6;
	case 1 << 24: return 7;
	case 0x7fffffff: return 8;
	default: return 0;
	}
}

/* A bytecode machine: dispatch through a computed-goto table. */
enum { OP_PUSH, OP_ADD, OP_MUL, OP_DUP, OP_OVER, OP_SWAP, OP_DEC, OP_JNZ, OP_POP, OP_HALT };

static long run_bytecode(const int *code) {
	static void *dispatch[] = {&&push, &&add, &&mul, &&dup, &&over, &&swap, &&dec, &&jnz, &&pop, &&halt};
	long stack[16];
	int sp = 0, pc = 0, steps = 0;
#define NEXT                                  \
	do {                                  \
		if (++steps > 100000)         \
			return -1;            \
		goto *dispatch[code[pc++]];   \
	} while (0)
	NEXT;
push:
	stack[sp++] = code[pc++];
	NEXT;
add:
	sp--, stack[sp - 1] += stack[sp];
	NEXT;
mul:
	sp--, stack[sp - 1] *= stack[sp];
	NEXT;
dup:
	stack[sp] = stack[sp - 1], sp++;
	NEXT;
over:
	stack[sp] = stack[sp - 2], sp++;
	NEXT;
swap: {
	long t = stack[sp - 1];
	stack[sp - 1] = stack[sp - 2], stack[sp - 2] = t;
	NEXT;
}
dec:
	stack[sp - 1]--;
	NEXT;
jnz:
	if (stack[--sp])
		pc = code[pc];
	else
		pc++;
	NEXT;
pop:
	sp--;
	NEXT;
halt:
	return stack[sp - 1];
#undef NEXT
}

/* A character classifier with a dense switch over a byte. */
static int classify(unsigned char c) {
	switch (c) {
	case '0': case '1': case '2': case '3': case '4':
	case '5': case '6': case '7': case '8': case '9': return 1;
	case 'a': case 'e': case 'i': case 'o': case 'u': return 2;
	case ' ': case '\t': case '\n': return 3;
	case '(': case ')': case '[': case ']': case '{': case '}': return 4;
	case '+': case '-': case '*': case '/': return 5;
	default: return c >= 'a' && c <= 'z' ? 6 : 0;
	}
}

int main(void) {
	uint32_t h = FNV_INIT, x = 12345;
	for (int i = 0; i < 20000; i++) {
		x = dense(x, (int)(rnd32() % 23) - 1);
		h = fnv_u64(h, x);
	}
	printf("dense %08x last %u\n", h, x);

	static const int32_t keys[] = {-100000, -7, 0, 13, 1000, 65536, 1 << 24, 0x7fffffff, 1, -1, 14, 999};
	printf("sparse:");
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
		printf(" %d", sparse(keys[i]));
	printf("\n");

	/* acc = 1; n = 10; do acc = acc * n + 1; while (--n); */
	static const int program[] = {OP_PUSH, 1, OP_PUSH, 10,
				      /* 4: [acc n] */ OP_SWAP, OP_OVER, OP_MUL, OP_PUSH, 1, OP_ADD, OP_SWAP,
				      OP_DEC, OP_DUP, OP_JNZ, 4, OP_POP, OP_HALT};
	printf("bytecode result %ld\n", run_bytecode(program));

	const char *text = "int f(x) { return (x + 42) * 7 - y[3]; }\n";
	int counts[7] = {0};
	for (const char *p = text; *p; p++)
		counts[classify((unsigned char)*p)]++;
	printf("classes: other %d digit %d vowel %d space %d bracket %d op %d letter %d\n", counts[0], counts[1],
	       counts[2], counts[3], counts[4], counts[5], counts[6]);
	return 0;
}

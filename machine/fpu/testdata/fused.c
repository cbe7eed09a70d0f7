/* fused: runs PA-RISC 2.0's fused multiply-add instructions, which
 * qemu-hppa executes in its 32-bit user mode (GCC emits them for
 * -march=2.0), over interesting operands in every rounding mode and with
 * denormals as zero, and prints each result with the status register
 * afterwards. Run under qemu-hppa it records the reference fused_test.go
 * checks package fpu against.
 *
 * Rebuild (from this directory):
 *   hppa-linux-gnu-gcc -O1 -static -s -o fused fused.c
 *   qemu-hppa ./fused | gzip -9n > fused.golden.gz
 *
 * Each line: <mnemonic> <mode> <a> <b> <c> <result> <status>, hex: the
 * result is a*b+c (fmpyfadd) or -(a*b)+c (fmpynfadd), mode the status
 * register before the operation and status the one after it.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static void set_status(uint32_t st)
{
	uint64_t v = (uint64_t)st << 32;
	__asm__ volatile("fldd 0(%0),%%fr0" : : "r"(&v) : "memory");
}

static uint32_t get_status(void)
{
	uint64_t v;
	__asm__ volatile("fstd %%fr0,0(%0)" : : "r"(&v) : "memory");
	return v >> 32;
}

#define FUSED_D(fn, insn)                                                    \
	static uint64_t fn(uint64_t a, uint64_t b, uint64_t c)               \
	{                                                                    \
		double x, y, z, r;                                           \
		memcpy(&x, &a, 8);                                           \
		memcpy(&y, &b, 8);                                           \
		memcpy(&z, &c, 8);                                           \
		__asm__ volatile(".level 2.0\n\t" insn " %1,%2,%3,%0"        \
				 : "=f"(r) : "f"(x), "f"(y), "f"(z));        \
		memcpy(&a, &r, 8);                                           \
		return a;                                                    \
	}
#define FUSED_S(fn, insn)                                                    \
	static uint64_t fn(uint64_t a, uint64_t b, uint64_t c)               \
	{                                                                    \
		float x, y, z, r;                                            \
		uint32_t a32 = a, b32 = b, c32 = c, r32;                     \
		memcpy(&x, &a32, 4);                                         \
		memcpy(&y, &b32, 4);                                         \
		memcpy(&z, &c32, 4);                                         \
		__asm__ volatile(".level 2.0\n\t" insn " %1,%2,%3,%0"        \
				 : "=f"(r) : "f"(x), "f"(y), "f"(z));        \
		memcpy(&r32, &r, 4);                                         \
		return r32;                                                  \
	}
FUSED_D(fmpyfadd_d, "fmpyfadd,dbl")
FUSED_D(fmpynfadd_d, "fmpynfadd,dbl")
FUSED_S(fmpyfadd_s, "fmpyfadd,sgl")
FUSED_S(fmpynfadd_s, "fmpynfadd,sgl")

static const struct {
	const char *name;
	uint64_t (*fn)(uint64_t, uint64_t, uint64_t);
	int wide;
} ops[] = {
	{"fmpyfadd,dbl", fmpyfadd_d, 1}, {"fmpynfadd,dbl", fmpynfadd_d, 1},
	{"fmpyfadd,sgl", fmpyfadd_s, 0}, {"fmpynfadd,sgl", fmpynfadd_s, 0},
};

/* Doubles: signed zeros and ones, a value whose products are inexact,
 * an ulp above one and a tiny value (the product and the addend cancel
 * to a result that needs the exact product), the largest number (its
 * products overflow) and one whose products underflow, the smallest
 * normal and the largest subnormal, infinities, a signaling and a quiet
 * NaN (PA-RISC: the top fraction bit set means signaling). */
static const uint64_t d[] = {
	0x0000000000000000ull, 0x8000000000000000ull, 0x3ff0000000000000ull,
	0xbff0000000000000ull, 0x3fb999999999999aull, 0x3ff0000000000001ull,
	0x3ca0000000000000ull, 0x7fefffffffffffffull, 0x2000000000000001ull,
	0x0010000000000000ull, 0x000fffffffffffffull, 0x7ff0000000000000ull,
	0xfff0000000000000ull, 0x7ff8000000000002ull, 0x7ff0000000000001ull,
};
/* Singles likewise. */
static const uint32_t s[] = {
	0x00000000, 0x80000000, 0x3f800000, 0xbf800000, 0x3dcccccd, 0x3f800001,
	0x33800000, 0x7f7fffff, 0x20000001, 0x00800000, 0x007fffff, 0x7f800000,
	0xff800000, 0x7fc00002, 0x7f800001,
};

/* The status registers the operations start from: each rounding mode
 * (bits 9-10), then the D bit (5) with round to nearest and round up. */
static const uint32_t modes[] = {0, 1 << 9, 2 << 9, 3 << 9, 1 << 5, 1 << 5 | 2 << 9};

int main(void)
{
	enum { n = sizeof d / sizeof d[0] };
	for (unsigned k = 0; k < sizeof ops / sizeof ops[0]; k++) {
		int digits = ops[k].wide ? 16 : 8;
		for (unsigned m = 0; m < sizeof modes / sizeof modes[0]; m++)
			for (unsigned i = 0; i < n; i++)
				for (unsigned j = 0; j < n; j++)
					for (unsigned l = 0; l < n; l++) {
						uint64_t a = ops[k].wide ? d[i] : s[i];
						uint64_t b = ops[k].wide ? d[j] : s[j];
						uint64_t c = ops[k].wide ? d[l] : s[l];
						set_status(modes[m]);
						uint64_t r = ops[k].fn(a, b, c);
						uint32_t st = get_status();
						set_status(0);
						printf("%s %x %0*llx %0*llx %0*llx %0*llx %08x\n", ops[k].name, modes[m],
						       digits, (unsigned long long)a, digits, (unsigned long long)b,
						       digits, (unsigned long long)c, digits, (unsigned long long)r, st);
					}
	}
	return 0;
}

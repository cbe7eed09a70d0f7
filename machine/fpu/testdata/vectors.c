/* vectors: runs PA-RISC floating-point instructions over interesting
 * operands in every rounding mode and prints each result with the status
 * register afterwards. Run under qemu-hppa it records the reference that
 * vectors_test.go checks package fpu against.
 *
 * Rebuild (from this directory):
 *   hppa-linux-gnu-gcc -O1 -static -s -o vectors vectors.c
 *   qemu-hppa ./vectors > vectors.golden
 *
 * Each line: <mnemonic> <rm> <a> <b> <result> <status>, hex, where the
 * status is the upper half of fr0 after the operation (flags, C bit). A
 * 32-bit operand is printed as 8 digits, a 64-bit one as 16.
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

#define BIN_D(fn, insn)                                                      \
	static uint64_t fn(uint64_t a, uint64_t b)                           \
	{                                                                    \
		double x, y, r;                                              \
		memcpy(&x, &a, 8);                                           \
		memcpy(&y, &b, 8);                                           \
		__asm__ volatile(insn " %1,%2,%0" : "=f"(r) : "f"(x), "f"(y)); \
		memcpy(&a, &r, 8);                                           \
		return a;                                                    \
	}
#define BIN_S(fn, insn)                                                      \
	static uint64_t fn(uint64_t a, uint64_t b)                           \
	{                                                                    \
		float x, y, r;                                               \
		uint32_t a32 = a, b32 = b, r32;                              \
		memcpy(&x, &a32, 4);                                         \
		memcpy(&y, &b32, 4);                                         \
		__asm__ volatile(insn " %1,%2,%0" : "=f"(r) : "f"(x), "f"(y)); \
		memcpy(&r32, &r, 4);                                         \
		return r32;                                                  \
	}
#define UN(fn, insn, TA, TR)                                                 \
	static uint64_t fn(uint64_t a, uint64_t b)                           \
	{                                                                    \
		TA x;                                                        \
		TR r;                                                        \
		uint64_t out = 0;                                            \
		(void)b;                                                     \
		if (sizeof(TA) == 4) {                                       \
			uint32_t a32 = a;                                    \
			memcpy(&x, &a32, 4);                                 \
		} else {                                                     \
			memcpy(&x, &a, 8);                                   \
		}                                                            \
		__asm__ volatile(insn " %1,%0" : "=f"(r) : "f"(x));          \
		if (sizeof(TR) == 4) {                                       \
			uint32_t r32;                                        \
			memcpy(&r32, &r, 4);                                 \
			out = r32;                                           \
		} else {                                                     \
			memcpy(&out, &r, 8);                                 \
		}                                                            \
		return out;                                                  \
	}
/* The compare leaves its verdict in the status register (C bit). */
#define CMP(fn, insn, T)                                                     \
	static uint64_t fn(uint64_t a, uint64_t b)                           \
	{                                                                    \
		T x, y;                                                      \
		if (sizeof(T) == 4) {                                        \
			uint32_t a32 = a, b32 = b;                           \
			memcpy(&x, &a32, 4);                                 \
			memcpy(&y, &b32, 4);                                 \
		} else {                                                     \
			memcpy(&x, &a, 8);                                   \
			memcpy(&y, &b, 8);                                   \
		}                                                            \
		__asm__ volatile(insn " %0,%1" : : "f"(x), "f"(y));          \
		return 0;                                                    \
	}

BIN_D(fadd_d, "fadd,dbl")
BIN_D(fsub_d, "fsub,dbl")
BIN_D(fmpy_d, "fmpy,dbl")
BIN_D(fdiv_d, "fdiv,dbl")
BIN_S(fadd_s, "fadd,sgl")
BIN_S(fsub_s, "fsub,sgl")
BIN_S(fmpy_s, "fmpy,sgl")
BIN_S(fdiv_s, "fdiv,sgl")
UN(fsqrt_d, "fsqrt,dbl", double, double)
UN(fsqrt_s, "fsqrt,sgl", float, float)
UN(frnd_d, "frnd,dbl", double, double)
UN(frnd_s, "frnd,sgl", float, float)
UN(fcnvff_sd, "fcnvff,sgl,dbl", float, double)
UN(fcnvff_ds, "fcnvff,dbl,sgl", double, float)
UN(fcnvxf_sd, "fcnvxf,sgl,dbl", float, double)
UN(fcnvxf_ss, "fcnvxf,sgl,sgl", float, float)
UN(fcnvxf_ds, "fcnvxf,dbl,sgl", double, float)
UN(fcnvxf_dd, "fcnvxf,dbl,dbl", double, double)
UN(fcnvfx_ss, "fcnvfx,sgl,sgl", float, float)
UN(fcnvfx_ds, "fcnvfx,dbl,sgl", double, float)
UN(fcnvfx_dd, "fcnvfx,dbl,dbl", double, double)
UN(fcnvfxt_ss, "fcnvfxt,sgl,sgl", float, float)
UN(fcnvfxt_ds, "fcnvfxt,dbl,sgl", double, float)
UN(fcnvfxt_sd, "fcnvfxt,sgl,dbl", float, double)
CMP(fcmp_lt_d, "fcmp,dbl,<", double)
CMP(fcmp_nlt_d, "fcmp,dbl,!<", double)
CMP(fcmp_eq_d, "fcmp,dbl,=", double)
CMP(fcmp_qeq_d, "fcmp,dbl,?=", double)
CMP(fcmp_le_s, "fcmp,sgl,<=", float)
CMP(fcmp_un_s, "fcmp,sgl,?", float)

struct op {
	const char *name;
	uint64_t (*fn)(uint64_t, uint64_t);
	int wide_a, wide_b; /* operand widths: 0 none, 4 or 8 bytes */
};

static const struct op ops[] = {
	{"fadd,dbl", fadd_d, 8, 8}, {"fsub,dbl", fsub_d, 8, 8},
	{"fmpy,dbl", fmpy_d, 8, 8}, {"fdiv,dbl", fdiv_d, 8, 8},
	{"fadd,sgl", fadd_s, 4, 4}, {"fsub,sgl", fsub_s, 4, 4},
	{"fmpy,sgl", fmpy_s, 4, 4}, {"fdiv,sgl", fdiv_s, 4, 4},
	{"fsqrt,dbl", fsqrt_d, 8, 0}, {"fsqrt,sgl", fsqrt_s, 4, 0},
	{"frnd,dbl", frnd_d, 8, 0}, {"frnd,sgl", frnd_s, 4, 0},
	{"fcnvff,sgl,dbl", fcnvff_sd, 4, 0}, {"fcnvff,dbl,sgl", fcnvff_ds, 8, 0},
	{"fcnvxf,sgl,dbl", fcnvxf_sd, 4, 0}, {"fcnvxf,sgl,sgl", fcnvxf_ss, 4, 0},
	{"fcnvxf,dbl,sgl", fcnvxf_ds, 8, 0}, {"fcnvxf,dbl,dbl", fcnvxf_dd, 8, 0},
	{"fcnvfx,sgl,sgl", fcnvfx_ss, 4, 0}, {"fcnvfx,dbl,sgl", fcnvfx_ds, 8, 0},
	{"fcnvfx,dbl,dbl", fcnvfx_dd, 8, 0},
	{"fcnvfxt,sgl,sgl", fcnvfxt_ss, 4, 0}, {"fcnvfxt,dbl,sgl", fcnvfxt_ds, 8, 0},
	{"fcnvfxt,sgl,dbl", fcnvfxt_sd, 4, 0},
	{"fcmp,dbl,<", fcmp_lt_d, 8, 8}, {"fcmp,dbl,!<", fcmp_nlt_d, 8, 8},
	{"fcmp,dbl,=", fcmp_eq_d, 8, 8}, {"fcmp,dbl,?=", fcmp_qeq_d, 8, 8},
	{"fcmp,sgl,<=", fcmp_le_s, 4, 4}, {"fcmp,sgl,?", fcmp_un_s, 4, 4},
};

/* Doubles: zeros, ones, halfway and ulp neighbours, extremes, subnormals,
 * infinities, a quiet and a signaling NaN (PA-RISC: the top fraction bit
 * set means signaling), and integers near conversion limits. */
static const uint64_t d[] = {
	0x0000000000000000ull, 0x8000000000000000ull, 0x3ff0000000000000ull,
	0xbff0000000000000ull, 0x3ff8000000000000ull, 0x4008000000000000ull,
	0x3fb999999999999aull, 0x3ff0000000000001ull, 0x3ca0000000000000ull,
	0x7fefffffffffffffull, 0xffefffffffffffffull, 0x0010000000000000ull,
	0x000fffffffffffffull, 0x0000000000000001ull, 0x8000000000000003ull,
	0x7ff0000000000000ull, 0xfff0000000000000ull, 0x7ff0000000000001ull,
	0x7ff8000000000002ull, 0x41dfffffffc00000ull, 0xc1e0000000000000ull,
	0x41e0000000000000ull, 0x4330000000000001ull, 0x3fe8000000000000ull,
	0xc004000000000000ull, 0x47efffffe0000000ull, 0x36a0000000000000ull,
};
/* Singles likewise. */
static const uint32_t s[] = {
	0x00000000, 0x80000000, 0x3f800000, 0xbf800000, 0x3fc00000, 0x40400000,
	0x3dcccccd, 0x3f800001, 0x33800000, 0x7f7fffff, 0xff7fffff, 0x00800000,
	0x007fffff, 0x00000001, 0x80000003, 0x7f800000, 0xff800000, 0x7f800001,
	0x7fc00002, 0x4effffff, 0xcf000000, 0x4f000000, 0x3f400000, 0xc0200000,
};

static uint64_t operand(int width, unsigned i)
{
	return width == 8 ? d[i] : s[i];
}

static unsigned count(int width)
{
	return width == 8 ? sizeof d / sizeof d[0] : sizeof s / sizeof s[0];
}

int main(void)
{
	for (unsigned k = 0; k < sizeof ops / sizeof ops[0]; k++) {
		const struct op *o = &ops[k];
		int wr = 8;
		if (strstr(o->name, "sgl") && !strstr(o->name, "sgl,dbl"))
			wr = 4;
		if (!strncmp(o->name, "fcnvfx", 6) && strstr(o->name, ",dbl,sgl"))
			wr = 4;
		for (int rm = 0; rm < 4; rm++) {
			for (unsigned i = 0; i < count(o->wide_a); i++) {
				unsigned nb = o->wide_b ? count(o->wide_b) : 1;
				for (unsigned j = 0; j < nb; j++) {
					uint64_t a = operand(o->wide_a, i);
					uint64_t b = o->wide_b ? operand(o->wide_b, j) : 0;
					set_status((uint32_t)rm << 9);
					uint64_t r = o->fn(a, b);
					uint32_t st = get_status();
					set_status(0);
					printf("%s %d %0*llx %0*llx %0*llx %08x\n", o->name, rm,
					       o->wide_a * 2, (unsigned long long)a,
					       o->wide_b ? o->wide_b * 2 : 1, (unsigned long long)b,
					       o->name[1] == 'c' && o->name[2] == 'm' ? 1 : wr * 2,
					       (unsigned long long)r, st);
				}
			}
		}
	}
	return 0;
}

/* vectors: runs PA-RISC floating-point instructions over interesting
 * operands in every rounding mode, and with denormals as zero, and prints
 * each result with the status register afterwards. Run under qemu-hppa it
 * records the reference that vectors_test.go checks package fpu against.
 *
 * Rebuild (from this directory):
 *   hppa-linux-gnu-gcc -O1 -static -s -o vectors vectors.c
 *   qemu-hppa ./vectors | gzip -9n > vectors.golden.gz
 *
 * Each line: <mnemonic> <mode> <a> <b> <result> <status>, hex, where mode
 * is the status register before the operation (a rounding mode, and the D
 * bit: denormals as zero) and status the one after it (flags, C bit). A
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
/* The unsigned conversions, fneg and fnegabs only have PA-RISC 2.0
 * mnemonics, but QEMU executes them for PA-RISC 1.1 too. */
#define PA20 ".level 2.0\n\t"
UN(fcnvfx_sd, "fcnvfx,sgl,dbl", float, double)
UN(fcnvfxt_dd, "fcnvfxt,dbl,dbl", double, double)
UN(fcnvuf_ss, PA20 "fcnv,uw,sgl", float, float)
UN(fcnvuf_sd, PA20 "fcnv,uw,dbl", float, double)
UN(fcnvuf_ds, PA20 "fcnv,udw,sgl", double, float)
UN(fcnvuf_dd, PA20 "fcnv,udw,dbl", double, double)
UN(fcnvfu_ss, PA20 "fcnv,sgl,uw", float, float)
UN(fcnvfu_sd, PA20 "fcnv,sgl,udw", float, double)
UN(fcnvfu_ds, PA20 "fcnv,dbl,uw", double, float)
UN(fcnvfu_dd, PA20 "fcnv,dbl,udw", double, double)
UN(fcnvfut_ss, PA20 "fcnv,t,sgl,uw", float, float)
UN(fcnvfut_sd, PA20 "fcnv,t,sgl,udw", float, double)
UN(fcnvfut_ds, PA20 "fcnv,t,dbl,uw", double, float)
UN(fcnvfut_dd, PA20 "fcnv,t,dbl,udw", double, double)
UN(fcpy_d, "fcpy,dbl", double, double)
UN(fcpy_s, "fcpy,sgl", float, float)
UN(fabs_d, "fabs,dbl", double, double)
UN(fabs_s, "fabs,sgl", float, float)
UN(fneg_d, PA20 "fneg,dbl", double, double)
UN(fneg_s, PA20 "fneg,sgl", float, float)
UN(fnegabs_d, PA20 "fnegabs,dbl", double, double)
UN(fnegabs_s, PA20 "fnegabs,sgl", float, float)

/* xmpyu: the unsigned product of two single words, in a double register. */
static uint64_t xmpyu(uint64_t a, uint64_t b)
{
	float x, y;
	double r;
	uint32_t a32 = a, b32 = b;
	uint64_t out;
	memcpy(&x, &a32, 4);
	memcpy(&y, &b32, 4);
	__asm__ volatile("xmpyu %1,%2,%0" : "=f"(r) : "f"(x), "f"(y));
	memcpy(&out, &r, 8);
	return out;
}

/* Every compare condition, numbered as the instruction's c field. */
#define CONDITIONS(X)                                                        \
	X(0, "false?") X(1, "false") X(2, "?") X(3, "!<=>") X(4, "=")        \
	X(5, "=t") X(6, "?=") X(7, "!<>") X(8, "!?>=") X(9, "<") X(10, "?<") \
	X(11, "!>=") X(12, "!?>") X(13, "<=") X(14, "?<=") X(15, "!>")       \
	X(16, "!?<=") X(17, ">") X(18, "?>") X(19, "!<=") X(20, "!?<")       \
	X(21, ">=") X(22, "?>=") X(23, "!<") X(24, "!?=") X(25, "<>")        \
	X(26, "!=") X(27, "!=t") X(28, "!?") X(29, "<=>") X(30, "true?")     \
	X(31, "true")
#define CMP_D(n, c) CMP(fcmp_d##n, "fcmp,dbl," c, double)
#define CMP_S(n, c) CMP(fcmp_s##n, "fcmp,sgl," c, float)
CONDITIONS(CMP_D)
CONDITIONS(CMP_S)

struct op {
	const char *name;
	uint64_t (*fn)(uint64_t, uint64_t);
	int wide_a, wide_b; /* operand widths: 0 none, 4 or 8 bytes */
	/* A comparison does not round: it runs in compare_modes only, over
	 * the operands up to the NaNs (the rest add no new relation). */
	int compare;
};
#define OP_CMP_D(n, c) {"fcmp,dbl," c, fcmp_d##n, 8, 8, 1},
#define OP_CMP_S(n, c) {"fcmp,sgl," c, fcmp_s##n, 4, 4, 1},

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
	{"fcnvfx,sgl,dbl", fcnvfx_sd, 4, 0}, {"fcnvfxt,dbl,dbl", fcnvfxt_dd, 8, 0},
	{"fcnvuf,sgl,sgl", fcnvuf_ss, 4, 0}, {"fcnvuf,sgl,dbl", fcnvuf_sd, 4, 0},
	{"fcnvuf,dbl,sgl", fcnvuf_ds, 8, 0}, {"fcnvuf,dbl,dbl", fcnvuf_dd, 8, 0},
	{"fcnvfu,sgl,sgl", fcnvfu_ss, 4, 0}, {"fcnvfu,sgl,dbl", fcnvfu_sd, 4, 0},
	{"fcnvfu,dbl,sgl", fcnvfu_ds, 8, 0}, {"fcnvfu,dbl,dbl", fcnvfu_dd, 8, 0},
	{"fcnvfut,sgl,sgl", fcnvfut_ss, 4, 0}, {"fcnvfut,sgl,dbl", fcnvfut_sd, 4, 0},
	{"fcnvfut,dbl,sgl", fcnvfut_ds, 8, 0}, {"fcnvfut,dbl,dbl", fcnvfut_dd, 8, 0},
	{"fcpy,dbl", fcpy_d, 8, 0}, {"fcpy,sgl", fcpy_s, 4, 0},
	{"fabs,dbl", fabs_d, 8, 0}, {"fabs,sgl", fabs_s, 4, 0},
	{"fneg,dbl", fneg_d, 8, 0}, {"fneg,sgl", fneg_s, 4, 0},
	{"fnegabs,dbl", fnegabs_d, 8, 0}, {"fnegabs,sgl", fnegabs_s, 4, 0},
	{"xmpyu", xmpyu, 4, 4},
	CONDITIONS(OP_CMP_D)
	CONDITIONS(OP_CMP_S)
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
	/* Below 1 and below the single normal range by an ulp: results that
	 * round up to the smallest normal number. */
	0x3fefffffffffffffull, 0x380fffffe0000000ull,
};
/* Singles likewise. */
static const uint32_t s[] = {
	0x00000000, 0x80000000, 0x3f800000, 0xbf800000, 0x3fc00000, 0x40400000,
	0x3dcccccd, 0x3f800001, 0x33800000, 0x7f7fffff, 0xff7fffff, 0x00800000,
	0x007fffff, 0x00000001, 0x80000003, 0x7f800000, 0xff800000, 0x7f800001,
	0x7fc00002, 0x4effffff, 0xcf000000, 0x4f000000, 0x3f400000, 0xc0200000,
	0x3f7fffff,
};

static uint64_t operand(int width, unsigned i)
{
	return width == 8 ? d[i] : s[i];
}

/* The first compareOperands of both tables end with the signaling NaN. */
enum { compareOperands = 19 };

static unsigned count(int width, int compare)
{
	if (compare)
		return compareOperands;
	return width == 8 ? sizeof d / sizeof d[0] : sizeof s / sizeof s[0];
}

/* The status registers the operations start from: each rounding mode
 * (bits 9-10), then the D bit (5) with round to nearest and round up. */
static const uint32_t modes[] = {0, 1 << 9, 2 << 9, 3 << 9, 1 << 5, 1 << 5 | 2 << 9};
/* A comparison does not round: only the D bit matters. */
static const uint32_t compare_modes[] = {0, 1 << 5};

int main(void)
{
	for (unsigned k = 0; k < sizeof ops / sizeof ops[0]; k++) {
		const struct op *o = &ops[k];
		int wr = 8;
		if (strstr(o->name, "sgl") && !strstr(o->name, "sgl,dbl"))
			wr = 4;
		if (!strncmp(o->name, "fcnvfx", 6) && strstr(o->name, ",dbl,sgl"))
			wr = 4;
		const uint32_t *ms = o->compare ? compare_modes : modes;
		unsigned nm = o->compare ? sizeof compare_modes / sizeof compare_modes[0]
					 : sizeof modes / sizeof modes[0];
		for (unsigned m = 0; m < nm; m++) {
			for (unsigned i = 0; i < count(o->wide_a, o->compare); i++) {
				unsigned nb = o->wide_b ? count(o->wide_b, o->compare) : 1;
				for (unsigned j = 0; j < nb; j++) {
					uint64_t a = operand(o->wide_a, i);
					uint64_t b = o->wide_b ? operand(o->wide_b, j) : 0;
					set_status(ms[m]);
					uint64_t r = o->fn(a, b);
					uint32_t st = get_status();
					set_status(0);
					printf("%s %x %0*llx %0*llx %0*llx %08x\n", o->name, ms[m],
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

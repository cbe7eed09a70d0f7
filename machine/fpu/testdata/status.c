/* status: runs single floating-point instructions from a chosen fr0
 * (status register and exception register 1) and prints what they do to
 * fr0: ftest's nullification under every compare-queue pattern, fcmp's C
 * bit and queue shift (and the targeted forms), which operations clear
 * the lower half of fr0, the state an enabled exception leaves when it
 * traps, and which odd words are illegal instructions. Run under qemu-hppa it records the reference that status_test.go
 * checks package fpu against.
 *
 * Rebuild (from this directory):
 *   hppa-linux-gnu-gcc -O1 -static -s -o status status.c
 *   qemu-hppa ./status | gzip -9n > status.golden.gz
 *
 * Each line, hex: <word> <fr0> <fr4> <fr5> <fr6> <outcome> <fr0'> <fr6'>
 * where the first four registers are set before the instruction runs,
 * outcome is done, nullify (the next instruction was skipped), trap
 * (SIGFPE) or illegal (SIGILL), and fr0', fr6' are the registers
 * afterwards.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <ucontext.h>

/* The operands of every instruction here are fr4 and fr5, the target fr6. */
struct regs {
	uint64_t fr0, fr4, fr5, fr6;
};

/* RUN executes the word w between loads and stores of the registers
 * (addressed from fr5: short displacements reach -16..15); the ldi after
 * it is skipped when w nullifies it. */
#define RUN(w)                                                               \
	static int run_##w(struct regs *r)                                   \
	{                                                                    \
		int nullified;                                               \
		__asm__ volatile("fldd -8(%1),%%fr4\n\t"                      \
				 "fldd 0(%1),%%fr5\n\t"                     \
				 "fldd 8(%1),%%fr6\n\t"                     \
				 "fldd -16(%1),%%fr0\n\t"                      \
				 "ldi 1,%0\n\t"                              \
				 ".word " #w "\n\t"                          \
				 "ldi 0,%0\n\t"                              \
				 "fstd %%fr0,-16(%1)\n\t"                      \
				 "fstd %%fr6,8(%1)"                         \
				 : "=&r"(nullified)                          \
				 : "r"(&r->fr5)                                    \
				 : "memory", "fr4", "fr5", "fr6");           \
		return nullified;                                            \
	}

/* ftest (y=1) in its forms, then the targeted ftest of CA[y-1]. */
#define FTESTS(X)                                                            \
	X(0x30002420) X(0x30002421) X(0x30002422) X(0x30002425)              \
	X(0x30002426) X(0x30002429) X(0x3000242d) X(0x30002431)              \
	X(0x30000420) X(0x30004420) X(0x30006420) X(0x30008420)              \
	X(0x3000a420) X(0x3000c420) X(0x3000e420)
/* fcmp,dbl,< and fcmp,dbl,> fr4,fr5 queued, then fcmp,dbl,< targeted
 * at CA[0..6], then fcmp,dbl,? and fcmp,dbl,!?<=> (signaling). */
#define COMPARES(X)                                                          \
	X(0x30850c09) X(0x30850c11) X(0x30852c09) X(0x30854c09)              \
	X(0x30856c09) X(0x30858c09) X(0x3085ac09) X(0x3085cc09)              \
	X(0x3085ec09) X(0x30850c02) X(0x30850c03)
/* fadd,dbl fr4,fr5,fr6; fdiv,dbl; fmpy,dbl; fsqrt,dbl fr4,fr6;
 * fcnvfx,dbl,dbl fr4,fr6; fcpy,dbl fr4,fr6; fabs,dbl fr4,fr6;
 * xmpyu fr4L,fr5R,fr6; fcnvff,dbl,sgl fr4,fr6R. */
#define OTHERS(X)                                                            \
	X(0x30850e06) X(0x30856e06) X(0x30854e06) X(0x30808806)              \
	X(0x30812a06) X(0x30804806) X(0x30806806) X(0x38855706)              \
	X(0x38800a46)

/* Words QEMU does not execute (SIGILL): ftest with a c that names no
 * form, fcnvff to its own format (0x0C sgl and dbl, 0x0E sgl), fadd,dbl of
 * 0x0E with bit 7 set, conversion sub-op 4, fadd with format 2 and 3, sub-op
 * 4 of class 3, fadd,dbl with bit 5 set, fcmp,dbl,< with bit 6 set, xmpyu
 * with sub-op 3 and with bit 5 set. */
#define ILLEGALS(X)                                                          \
	X(0x30002423) X(0x30800206) X(0x30802a06) X(0x38800286)              \
	X(0x38850e86) X(0x30820206) X(0x30851606) X(0x30851e06)              \
	X(0x30858e06) X(0x30850e26) X(0x30850c49) X(0x38857706)              \
	X(0x38855726)

FTESTS(RUN)
COMPARES(RUN)
OTHERS(RUN)
ILLEGALS(RUN)

struct insn {
	uint32_t word;
	int (*run)(struct regs *);
};
#define ENTRY(w) {w, run_##w},
static const struct insn ftests[] = {FTESTS(ENTRY)};
static const struct insn compares[] = {COMPARES(ENTRY)};
static const struct insn others[] = {OTHERS(ENTRY)};
static const struct insn illegals[] = {ILLEGALS(ENTRY)};

#define N(a) (sizeof(a) / sizeof((a)[0]))

static sigjmp_buf trapped;
static uint64_t trapped_fr6;
static volatile sig_atomic_t illegal;

static void on_sigill(int sig)
{
	(void)sig;
	illegal = 1;
	siglongjmp(trapped, 1);
}

static void on_sigfpe(int sig, siginfo_t *info, void *context)
{
	ucontext_t *uc = context;
	(void)sig;
	(void)info;
	trapped_fr6 = uc->uc_mcontext.sc_fr[6];
	siglongjmp(trapped, 1);
}

static uint64_t get_fr0(void)
{
	uint64_t v;
	__asm__ volatile("fstd %%fr0,0(%0)" : : "r"(&v) : "memory");
	return v;
}

static void run(const struct insn *in, uint64_t fr0, uint64_t fr4, uint64_t fr5)
{
	struct regs r = {fr0, fr4, fr5, 0x4045000000000000ull /* 42.0 */};
	struct regs before = r;
	const char *outcome = "done";
	illegal = 0;
	if (sigsetjmp(trapped, 1) == 0) {
		if (in->run(&r))
			outcome = "nullify";
	} else if (illegal) {
		outcome = "illegal";
	} else {
		/* fr0 as the trap left it; fr6 as the signal context saw it. */
		outcome = "trap";
		r.fr0 = get_fr0();
		r.fr6 = trapped_fr6;
	}
	printf("%08x %016llx %016llx %016llx %016llx %s %016llx %016llx\n",
	       in->word, (unsigned long long)before.fr0,
	       (unsigned long long)before.fr4, (unsigned long long)before.fr5,
	       (unsigned long long)before.fr6, outcome,
	       (unsigned long long)r.fr0, (unsigned long long)r.fr6);
}

/* Status words: C and the compare queue (bits 11-21) in patterns that
 * tell every ftest form apart, and the targeted CA bits (15-21). */
static const uint32_t queues[] = {
	0x00000000, 0x04000000, 0x00200000, 0x00100000, 0x00080000,
	0x00020000, 0x00010000, 0x00008000, 0x00004000, 0x00000800,
	0x07fff800, 0x03fff800, 0x04200000, 0x043f8000, 0x043e0000,
	0x04380000, 0x02aaa800, 0x05555000, 0x003f8000, 0x00400000,
};

static const uint64_t one = 0x3ff0000000000000ull, two = 0x4000000000000000ull,
		      zero = 0, snan = 0x7ff8000000000002ull,
		      qnan = 0x7ff0000000000001ull, huge = 0x7fe0000000000000ull,
		      tiny = 0x0010000000000001ull, tenth = 0x3fb999999999999aull,
		      minus = 0xbff0000000000000ull, big = 0x43e0000000000000ull;

int main(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_sigfpe;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGFPE, &sa, NULL);
	signal(SIGILL, on_sigill);
	for (unsigned i = 0; i < N(illegals); i++)
		run(&illegals[i], 0, one, two);
	for (unsigned i = 0; i < N(ftests); i++)
		for (unsigned q = 0; q < N(queues); q++)
			run(&ftests[i], (uint64_t)queues[q] << 32, one, two);

	/* Compares: less, greater, equal and unordered operands, from
	 * queue patterns, with exception register 1 (fr0's lower half)
	 * holding a marker and every flag and rounding mode set. */
	const uint64_t pairs[][2] = {{one, two}, {two, one}, {one, one}, {qnan, one}, {snan, one}};
	for (unsigned i = 0; i < N(compares); i++)
		for (unsigned p = 0; p < N(pairs); p++)
			for (unsigned q = 0; q < N(queues); q++)
				run(&compares[i], (uint64_t)(queues[q] | 0xf8000600) << 32 | 0x12345678,
				    pairs[p][0], pairs[p][1]);

	/* Every operation with a marker in fr0's lower half, exact and
	 * inexact, and with each exception enabled in turn (bits 0-4:
	 * inexact, underflow, overflow, division by zero, invalid), plus
	 * all flags already set and round-down mode. */
	const uint64_t operands[][2] = {{one, two}, {one, zero}, {zero, zero}, {huge, huge},
					{tiny, tenth}, {minus, one}, {snan, one}, {big, one}};
	const uint32_t enables[] = {0, 1, 2, 4, 8, 16, 0x1f, 0xf8000000 | 3 << 9 | 0x1f};
	for (unsigned i = 0; i < N(others); i++)
		for (unsigned o = 0; o < N(operands); o++)
			for (unsigned e = 0; e < N(enables); e++)
				run(&others[i], (uint64_t)enables[e] << 32 | 0x12345678,
				    operands[o][0], operands[o][1]);
	for (unsigned i = 0; i < N(compares); i++)
		for (unsigned e = 0; e < N(enables); e++)
			run(&compares[i], (uint64_t)enables[e] << 32, snan, one);
	return 0;
}

/* traps: what the kernel does when an instruction cannot complete.
 *
 * Misaligned loads and stores (ldh, ldw, their indexed and modifying
 * forms, sth, stw, fldw, fldd, fstw, fstd) at every offset: PA-RISC
 * traps them and Linux completes them for the program, as qemu-hppa
 * does; C code reading words at odd addresses (a hash over a byte
 * buffer, a packed struct) relies on it. An access that crosses into a
 * page it may not touch faults (SIGSEGV) at that page's first byte and
 * stores nothing; a misaligned ldcw gets SIGBUS. Integer traps raise
 * SIGFPE with FPE_INTOVF (addo, addio, subo) or parisc's FPE_CONDTRAP
 * (addit, the millicode's division by zero, __builtin_trap), and a call
 * through a null function pointer SIGSEGV.
 *
 * With the argument "priv": privileged instructions (SIGILL ILL_PRVOPC),
 * privileged registers (ILL_PRVREG) and branches into the gateway page
 * away from its entry points (ILL_ILLOPC). qemu-hppa dumps its registers
 * to stderr on those, so that case compares stdout and status only.
 *
 * Rebuild: ./build.sh
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>

#include "corpus.h"

static sigjmp_buf back;
static volatile int got_code;
static volatile uintptr_t got_addr;

static void handler(int sig, siginfo_t *si, void *ctx) {
	(void)ctx;
	got_code = si->si_code;
	got_addr = (uintptr_t)si->si_addr;
	siglongjmp(back, sig);
}

/* TRY runs body and evaluates to the signal that interrupted it, or 0. */
#define TRY(body)                                   \
	({                                          \
		int sig_ = sigsetjmp(back, 1);      \
		if (sig_ == 0) {                    \
			body;                       \
		}                                   \
		sig_;                               \
	})

static unsigned char buf[32] __attribute__((aligned(16)));

static void fill(void) {
	for (int i = 0; i < 32; i++)
		buf[i] = 0x10 + i;
}

static void dump(const char *what, int off) {
	printf("%-5s +%d:", what, off);
	for (int i = 0; i < 14; i++)
		printf(" %02x", buf[i]);
	printf("\n");
}

/* Each access by hand, so that the instruction is the one named. */
static void misaligned_asm(void) {
	for (int off = 1; off < 8; off++) {
		unsigned char *p = buf + off, *q;
		uint32_t h, w, x, m;
		uint64_t dbl;
		float f;
		double d;
		fill();
		__asm__ volatile("ldh 0(%1),%0" : "=r"(h) : "r"(p) : "memory");
		__asm__ volatile("ldw 0(%1),%0" : "=r"(w) : "r"(p) : "memory");
		__asm__ volatile("ldwx %2(%1),%0" : "=r"(x) : "r"(buf), "r"(off) : "memory");
		q = p;
		__asm__ volatile("ldw,mb 4(%1),%0" : "=r"(m), "+r"(q) : : "memory");
		__asm__ volatile("fldw 0(%1),%0" : "=f"(f) : "r"(p) : "memory");
		__asm__ volatile("fldd 0(%1),%0" : "=f"(d) : "r"(p) : "memory");
		memcpy(&dbl, &d, 8);
		uint32_t fw;
		memcpy(&fw, &f, 4);
		printf("load  +%d: ldh %04x ldw %08x ldwx %08x ldw,mb %08x (base +%d) fldw %08x fldd %016llx\n", off, h, w, x, m,
		       (int)(q - buf), fw, (unsigned long long)dbl);

		fill();
		__asm__ volatile("sth %0,0(%1)" : : "r"(0xa1a2), "r"(p) : "memory");
		dump("sth", off);
		fill();
		__asm__ volatile("stw %0,0(%1)" : : "r"(0xb1b2b3b4), "r"(p) : "memory");
		dump("stw", off);
		fill();
		q = p;
		__asm__ volatile("stw,ma %1,4(%0)" : "+r"(q) : "r"(0xc1c2c3c4) : "memory");
		dump("stwma", off);
		fill();
		f = -1.5f;
		__asm__ volatile("fstw %0,0(%1)" : : "f"(f), "r"(p) : "memory");
		dump("fstw", off);
		fill();
		d = 0.1;
		__asm__ volatile("fstd %0,0(%1)" : : "f"(d), "r"(p) : "memory");
		dump("fstd", off);
	}
}

struct __attribute__((packed)) record {
	char tag;
	uint32_t id;
	double weight;
	uint16_t flags;
};

/* What C code does: word loads through casted byte pointers (GCC emits
 * ldw for them) and fields of packed structs. */
static void misaligned_c(void) {
	static unsigned char bytes[1027];
	for (int i = 0; i < (int)sizeof bytes; i++)
		bytes[i] = (unsigned char)(i * 37 + 11);
	uint32_t h = FNV_INIT;
	for (int off = 0; off < 8; off++)
		for (int i = off; i + 4 <= (int)sizeof bytes; i += 7) {
			uint32_t w = *(volatile uint32_t *)(bytes + i);
			h = (h ^ w) * 16777619u;
			*(volatile uint16_t *)(bytes + i) = (uint16_t)w;
		}
	printf("word hash over odd addresses %08x\n", h);

	static struct record recs[5];
	volatile struct record *r = recs;
	for (int i = 0; i < 5; i++) {
		r[i].tag = 'a' + i;
		r[i].id = 0x01020304u * (i + 1);
		r[i].weight = i / 3.0;
		r[i].flags = 0xf00f ^ i;
	}
	double total = 0;
	uint32_t ids = 0;
	for (int i = 0; i < 5; i++) {
		total += r[i].weight;
		ids ^= r[i].id + r[i].flags;
	}
	printf("packed records: size %zu ids %08x total %a\n", sizeof recs, ids, total);
}

static void misaligned_faults(void) {
	unsigned char *pg = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	memset(pg, 0x55, 8192);
	mprotect(pg + 4096, 4096, PROT_READ);
	for (volatile int back_off = 1; back_off < 4; back_off++) {
		unsigned char *p = pg + 4096 - back_off;
		volatile uint32_t v = 0;
		int sig = TRY(__asm__ volatile("ldw 0(%1),%0" : "=r"(v) : "r"(p) : "memory"));
		printf("ldw from a read-only page at -%d: signal %d value %08x\n", back_off, sig, v);
		sig = TRY(__asm__ volatile("stw %0,0(%1)" : : "r"(0xdeadbeef), "r"(p) : "memory"));
		printf("stw into a read-only page at -%d: signal %d code %d at +%ld, bytes before %02x%02x%02x\n", back_off, sig,
		       got_code, (long)(got_addr - (uintptr_t)pg) - 4096, pg[4093], pg[4094], pg[4095]);
	}
	munmap(pg + 4096, 4096);
	double d = 0;
	int sig = TRY(__asm__ volatile("fldd 0(%1),%0" : "=f"(d) : "r"(pg + 4092) : "memory"));
	printf("fldd into an unmapped page: signal %d code %d at +%ld\n", sig, got_code, (long)(got_addr - (uintptr_t)pg) - 4096);
	munmap(pg, 4096);

	unsigned char lock[16] __attribute__((aligned(16))) = {0, 0, 0, 1};
	volatile uint32_t old = 0;
	sig = TRY(__asm__ volatile("ldcw 0(%1),%0" : "=r"(old) : "r"(lock) : "memory"));
	printf("ldcw aligned: signal %d old %u now %u\n", sig, old, lock[3]);
	sig = TRY(__asm__ volatile("ldcw 0(%1),%0" : "=r"(old) : "r"(lock + 2) : "memory"));
	printf("ldcw misaligned: signal %d code %d at the word %d\n", sig, got_code, got_addr == (uintptr_t)(lock + 2));

	unsigned mode = 99;
	printf("prctl(PR_GET_UNALIGN) %d mode %u\n", prctl(PR_GET_UNALIGN, &mode), mode);
}

static void integer_traps(void) {
	int sig;
	sig = TRY(__asm__ volatile("addo %0,%0,%%r0" : : "r"(0x7fffffff)));
	printf("addo overflow: signal %d code %d\n", sig, got_code);
	sig = TRY(__asm__ volatile("addio 1,%0,%%r0" : : "r"(0x7fffffff)));
	printf("addio overflow: signal %d code %d\n", sig, got_code);
	sig = TRY(__asm__ volatile("subo %0,%1,%%r0" : : "r"(0x80000000), "r"(1)));
	printf("subo overflow: signal %d code %d\n", sig, got_code);
	sig = TRY(__asm__ volatile("addo %0,%0,%%r0" : : "r"(0x3fffffff)));
	printf("addo without overflow: signal %d\n", sig);
	sig = TRY(__asm__ volatile("addit,= 0,%0,%%r0" : : "r"(0)));
	printf("addit,= taken: signal %d code %d\n", sig, got_code);
	sig = TRY(__asm__ volatile("addit,= 0,%0,%%r0" : : "r"(1)));
	printf("addit,= not taken: signal %d\n", sig);
	volatile int zero = 0, seven = 7;
	sig = TRY(printf("%d\n", seven / zero));
	printf("int division by zero: signal %d code %d\n", sig, got_code);
	volatile long long zero64 = 0, big = 1LL << 40;
	sig = TRY(printf("%lld\n", big % zero64));
	printf("long long remainder by zero: signal %d code %d\n", sig, got_code);
	sig = TRY(__builtin_trap());
	printf("__builtin_trap: signal %d code %d\n", sig, got_code);
	void (*volatile null_fn)(void) = NULL;
	sig = TRY(null_fn());
	printf("call through a null pointer: signal %d code %d\n", sig, got_code);
	printf("FPE_INTOVF %d SEGV_MAPERR %d SEGV_ACCERR %d BUS_ADRALN %d\n", FPE_INTOVF, SEGV_MAPERR, SEGV_ACCERR, BUS_ADRALN);
}

/* The gateway page's entry points are 0xb0, 0xe0 and 0x100. */
static void privileged(void) {
	int sig;
	sig = TRY(__asm__ volatile("mfctl %%cr8,%%r19" : : : "r19"));
	printf("mfctl cr8: signal %d code %d\n", sig, got_code);
	sig = TRY(__asm__ volatile("mtctl %%r0,%%cr27" : :));
	printf("mtctl cr27: signal %d code %d\n", sig, got_code);
	sig = TRY(__asm__ volatile("mtsp %%r0,%%sr5" : :));
	printf("mtsp sr5: signal %d code %d\n", sig, got_code);
	sig = TRY(__asm__ volatile("rfi"));
	printf("rfi: signal %d code %d\n", sig, got_code);
	sig = TRY(__asm__ volatile("ssm 0,%%r19" : : : "r19"));
	printf("ssm: signal %d code %d\n", sig, got_code);
	sig = TRY(__asm__ volatile("ldwa 0(%%r19),%%r19" : : : "r19"));
	printf("ldwa: signal %d code %d\n", sig, got_code);
	for (volatile uintptr_t entry = 0x4; entry < 0x1000; entry += 0x3fc) {
		void (*volatile fn)(void) = (void (*)(void))entry;
		sig = TRY(fn());
		printf("branch to %#lx in the gateway page: signal %d code %d\n", (unsigned long)entry, sig, got_code);
	}
	printf("ILL_ILLOPC %d ILL_PRVOPC %d ILL_PRVREG %d\n", ILL_ILLOPC, ILL_PRVOPC, ILL_PRVREG);
}

int main(int argc, char **argv) {
	setvbuf(stdout, NULL, _IOLBF, 0);
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = handler;
	sa.sa_flags = SA_SIGINFO | SA_NODEFER;
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
	sigaction(SIGFPE, &sa, NULL);
	sigaction(SIGILL, &sa, NULL);
	if (argc > 1 && strcmp(argv[1], "priv") == 0) {
		privileged();
		return 0;
	}
	misaligned_asm();
	misaligned_c();
	misaligned_faults();
	integer_traps();
	return 0;
}

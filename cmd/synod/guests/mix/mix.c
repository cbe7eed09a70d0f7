/* mix: a CPU-bound guest without libc, for the emulator benchmark beside
 * the corpus mips guest: machine/testdata/bench/kernel.c (CRC-32,
 * insertion sort, matrix multiply and FNV hashing), the kernel the machine
 * package's own benchmark runs, as a static Linux program of a few
 * kilobytes that qemu-hppa runs too. It runs the kernel ROUNDS times,
 * prints the result in hex and exits 0.
 *
 * Rebuild (in this directory):
 *   hppa-linux-gnu-gcc -O2 -static -nostdlib -ffreestanding -s -o mix mix.c -lgcc
 */
#include "../../../../machine/testdata/bench/kernel.c"

#define ROUNDS 40000

/* sys calls a Linux system call: number in r20, arguments in r26, r25
 * and r24, result in r28, entered through the gateway page. */
static long sys(long nr, long a, long b, long c)
{
	register long r20 __asm__("r20") = nr;
	register long r26 __asm__("r26") = a;
	register long r25 __asm__("r25") = b;
	register long r24 __asm__("r24") = c;
	register long r28 __asm__("r28");
	__asm__ volatile("ble 0x100(%%sr2, %%r0)\n\tnop"
			 : "=r"(r28), "+r"(r26), "+r"(r25), "+r"(r24), "+r"(r20)
			 :
			 : "r1", "r2", "r19", "r21", "r22", "r23", "r29", "r31", "memory");
	return r28;
}

enum { SYS_exit = 1, SYS_write = 4 };

void _start(void)
{
	int buf[256];
	unsigned v = kernel(buf, ROUNDS);
	char out[] = "kernel: 00000000\n";
	for (int i = 0; i < 8; i++)
		out[8 + i] = "0123456789abcdef"[(v >> (28 - 4 * i)) & 15];
	sys(SYS_write, 1, (long)out, sizeof out - 1);
	sys(SYS_exit, 0, 0, 0);
}

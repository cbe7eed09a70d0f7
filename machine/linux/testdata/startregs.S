/* startregs: writes the registers at process entry (168 bytes: r0-r31,
   cr27, cr11, sr0-sr7) and the 2112 bytes of stack from sp-2048, then exits.
   It shows the entry state and initial stack layout qemu-hppa gives.
   Rebuild: hppa-linux-gnu-gcc -nostdlib -static -s -o startregs startregs.S */
	.text
	.globl _start
_start:
	; save all GRs to buf
	ldil L%buf, %r1
	ldo R%buf(%r1), %r1
	stw %r0, 0(%r1)
	stw %r2, 8(%r1)
	stw %r3, 12(%r1)
	stw %r4, 16(%r1)
	stw %r5, 20(%r1)
	stw %r6, 24(%r1)
	stw %r7, 28(%r1)
	stw %r8, 32(%r1)
	stw %r9, 36(%r1)
	stw %r10, 40(%r1)
	stw %r11, 44(%r1)
	stw %r12, 48(%r1)
	stw %r13, 52(%r1)
	stw %r14, 56(%r1)
	stw %r15, 60(%r1)
	stw %r16, 64(%r1)
	stw %r17, 68(%r1)
	stw %r18, 72(%r1)
	stw %r19, 76(%r1)
	stw %r20, 80(%r1)
	stw %r21, 84(%r1)
	stw %r22, 88(%r1)
	stw %r23, 92(%r1)
	stw %r24, 96(%r1)
	stw %r25, 100(%r1)
	stw %r26, 104(%r1)
	stw %r27, 108(%r1)
	stw %r28, 112(%r1)
	stw %r29, 116(%r1)
	stw %r30, 120(%r1)
	stw %r31, 124(%r1)
	mfctl %cr27, %r3
	stw %r3, 128(%r1)
	mfctl %cr11, %r3
	stw %r3, 132(%r1)
	mfsp %sr0, %r3
	stw %r3, 136(%r1)
	mfsp %sr1, %r3
	stw %r3, 140(%r1)
	mfsp %sr2, %r3
	stw %r3, 144(%r1)
	mfsp %sr3, %r3
	stw %r3, 148(%r1)
	mfsp %sr4, %r3
	stw %r3, 152(%r1)
	mfsp %sr5, %r3
	stw %r3, 156(%r1)
	mfsp %sr6, %r3
	stw %r3, 160(%r1)
	mfsp %sr7, %r3
	stw %r3, 164(%r1)
	; write(1, buf, 168)
	copy %r1, %r25
	ldi 1, %r26
	ldi 168, %r24
	ble 0x100(%sr2, %r0)
	ldi 4, %r20
	; write(1, sp-1024, 1024+64) -- stack region below sp
	ldo -2048(%r30), %r25
	ldi 1, %r26
	ldi 2112, %r24
	ble 0x100(%sr2, %r0)
	ldi 4, %r20
	ldi 0, %r26
	ble 0x100(%sr2, %r0)
	ldi 1, %r20
	.data
	.align 8
buf:	.space 256

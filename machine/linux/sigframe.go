package linux

import (
	"github.com/synodvm/synod/machine"
)

// The signal frame, laid out as qemu-hppa 7.2 lays it out (and as libgcc's
// hppa-linux unwinder finds it from the return trampoline):
//
//	frame+0    2 words, unused (once the on-stack trampoline)
//	frame+8    siginfo_t, 128 bytes
//	frame+136  ucontext: flags, link, stack_t, pad, then mcontext at +24:
//	           sc_flags, sc_gr[32] (gr0 holds the PSW), pad, sc_fr[32]
//	           (8-byte aligned), sc_iasq[2], sc_iaoq[2], sc_sar;
//	           uc_sigmask at +440
//
// The handler runs with sp = frame + frameSize: the frame plus a call frame
// and a signal frame area, rounded to 64 bytes. On hppa the stack grows up,
// so the frame lies below the handler's stack pointer.
const (
	frameInfo     = 8
	frameUC       = 136
	ucStack       = 8
	ucMcontext    = 24
	ucSigmask     = 440
	scGR          = 4
	scFR          = 136
	scIASQ        = 392
	scIAOQ        = 400
	scSAR         = 408
	frameBytes    = frameUC + ucSigmask + 8      // 584
	frameSize     = (frameBytes + 48 + 64) &^ 63 // 640
	siginfoBytes  = 128
	sigFrameAlign = 64
)

// The sigreturn trampoline lives in its own page just below the stack, as in
// qemu-hppa 7.2 and Linux 5.18+. Its first word is the offset from the
// handler's stack pointer back to the mcontext, which libgcc's unwinder
// reads; the handler returns to the third word.
const (
	sigreturnPage  = stackBase - machine.PageSize
	sigreturnEntry = sigreturnPage + 8
)

// mcontextFromSP is where the mcontext lies relative to the handler's sp.
const mcontextFromSP = frameUC + ucMcontext - frameSize // -480

var sigreturnCode = [...]uint32{
	uint32(1<<32 + mcontextFromSP), // two's complement of the offset
	0x08000240,                     // nop
	0x34190000,                     // ldi 0, %r25 (not in a syscall)
	0x3414015a,                     // ldi 173 (__NR_rt_sigreturn), %r20
	0xe4008200,                     // ble 0x100(%sr2, %r0)
	0x08000240,                     // nop
}

func mapSigreturnPage(mem *machine.Memory) error {
	if err := mem.Map(sigreturnPage, machine.PageSize, machine.ProtRead|machine.ProtWrite); err != nil {
		return err
	}
	for i, w := range sigreturnCode {
		if err := mem.StoreWord(sigreturnPage+uint32(4*i), w); err != nil {
			return err
		}
	}
	return mem.Protect(sigreturnPage, machine.PageSize, machine.ProtRead|machine.ProtExec)
}

// pswNullify is the PSW N bit: the next instruction is nullified.
const pswNullify = 0x00200000

// setupFrame builds a signal frame for info on t's stack (or its alternate
// stack) and points t at the handler.
func (p *Process) setupFrame(t *thread, info sigInfo, act sigAction) {
	c := t.cpu
	sp := c.GR[30]
	if act.flags&saOnstack != 0 && t.sig.altFlags&ssDisable == 0 && t.sig.altSize != 0 && !t.onAltStack(sp) {
		sp = (t.sig.altSP + 0x7f) &^ 0x3f
	}
	frame := (sp + sigFrameAlign - 1) &^ (sigFrameAlign - 1)
	b := make(be, frameBytes)

	copy(b[frameInfo:], encodeSiginfo(info))

	uc := b[frameUC:]
	uc.u32(ucStack, t.sig.altSP)
	uc.u32(ucStack+4, t.altStackFlags(c.GR[30]))
	uc.u32(ucStack+8, t.sig.altSize)
	mc := uc[ucMcontext:]
	mc.u32(scGR, c.PSW())
	for i := 1; i < 32; i++ {
		mc.u32(scGR+4*i, c.GR[i])
	}
	mc.u64(scFR, c.FP.R[0]&0xffffffff00000000)
	for i := 1; i < 32; i++ {
		mc.u64(scFR+8*i, c.FP.R[i])
	}
	mc.u32(scIAOQ, c.IAOQFront)
	mc.u32(scIAOQ+4, c.IAOQBack)
	mc.u32(scSAR, c.CR[controlRegSAR])
	mask := t.sig.mask
	if t.sig.hasSavedMask {
		mask, t.sig.hasSavedMask = t.sig.savedMask, false
	}
	uc.u32(ucSigmask, uint32(mask))
	uc.u32(ucSigmask+4, uint32(mask>>32))

	handler := act.handler
	gp := c.GR[19]
	if handler&2 != 0 {
		// A function pointer is a plabel: the address of a descriptor
		// holding the entry point and the callee's global pointer.
		desc, e := p.readUser(handler&^3, 8)
		if e != 0 {
			p.terminate(SIGSEGV)
			return
		}
		handler, gp = getU32(desc, 0), getU32(desc, 4)
	}
	if p.writeUser(frame+frameInfo, b[frameInfo:]) != 0 {
		p.terminate(SIGSEGV)
		return
	}

	t.sig.mask |= act.mask
	if act.flags&saNodefer == 0 {
		t.sig.mask |= sigBit(info.signo)
	}
	t.sig.mask &^= unblockable
	if act.flags&saResetHand != 0 {
		p.sig.actions[info.signo] = sigAction{}
	}

	c.GR[2] = sigreturnEntry | privUser
	c.GR[19] = gp
	c.GR[24] = frame + frameUC
	c.GR[25] = frame + frameInfo
	c.GR[26] = uint32(info.signo)
	c.GR[30] = frame + frameSize
	c.IAOQFront = handler&^3 | privUser
	c.IAOQBack = (handler&^3 + 4) | privUser
	c.SetPSW(c.PSW() &^ pswNullify)
}

// encodeSiginfo lays out a siginfo_t: signo, errno, code, then the fault
// address or the sender's pid and uid.
func encodeSiginfo(info sigInfo) []byte {
	si := make(be, siginfoBytes)
	si.u32(0, uint32(info.signo))
	si.u32(8, uint32(info.code))
	if info.fault {
		si.u32(12, info.addr)
	} else {
		si.u32(12, info.pid)
		si.u32(16, info.uid)
		si.u32(20, info.value)
	}
	return si
}

func (t *thread) onAltStack(sp uint32) bool {
	return t.sig.altSize != 0 && sp-t.sig.altSP < t.sig.altSize
}

func (t *thread) altStackFlags(sp uint32) uint32 {
	switch {
	case t.sig.altSize == 0 || t.sig.altFlags&ssDisable != 0:
		return ssDisable
	case t.onAltStack(sp):
		return ssOnstack
	}
	return 0
}

// sysRtSigreturn restores the context a handler's frame saved.
func sysRtSigreturn(p *Process, t *thread, _ sysArgs) sysResult {
	c := t.cpu
	frame := c.GR[30] - frameSize
	b, e := p.readUser(frame, frameBytes)
	if e != 0 {
		p.terminate(SIGSEGV)
		return done()
	}
	uc := b[frameUC:]
	t.sig.mask = (uint64(getU32(uc, ucSigmask+4))<<32 | uint64(getU32(uc, ucSigmask))) &^ unblockable
	mc := uc[ucMcontext:]
	c.SetPSW(getU32(mc, scGR))
	for i := 1; i < 32; i++ {
		c.GR[i] = getU32(mc, scGR+4*i)
	}
	for i := 0; i < 32; i++ {
		c.FP.R[i] = getU64(mc, scFR+8*i)
	}
	c.IAOQFront = getU32(mc, scIAOQ) | privUser
	c.IAOQBack = getU32(mc, scIAOQ+4) | privUser
	c.CR[controlRegSAR] = getU32(mc, scSAR)
	p.setAltStack(t, getU32(uc, ucStack), getU32(uc, ucStack+4), getU32(uc, ucStack+8))
	return done()
}

package linux

import (
	"fmt"

	"github.com/synodvm/synod/machine"
)

// Entry points of the gateway page (page 0), as hppa Linux defines them.
const (
	gatewayLWS       = 0xb0  // light-weight syscalls: atomic compare-and-swap
	gatewaySetTP     = 0xe0  // set the thread pointer (cr27) from r26
	gatewaySyscall   = 0x100 // system call: number in r20, result in r28
	lwsCAS32         = 0     // r26 address, r25 old, r24 new; r28 = value found
	lwsCAS           = 2     // r26 address, r25/r24 addresses of old/new, r23 log2 size
	controlRegSAR    = 11
	controlRegThread = 27
)

// handleStop emulates what the kernel does when a CPU stops.
func (p *Process) handleStop(t *thread, stop machine.Stop) {
	stop.PC &^= 3 // the privilege level is not part of the address
	switch stop.Reason {
	case machine.StopBudget:
	case machine.StopGateway:
		p.gateway(t, stop.PC)
	case machine.StopBreak:
		p.forceSignal(t, sigInfo{signo: SIGTRAP, code: trapBrkpt, addr: stop.PC, fault: true})
	case machine.StopIllegal:
		p.log.Warn("illegal instruction", "pc", hex32(stop.PC), "word", hex32(stop.Word), "tid", t.tid)
		p.forceSignal(t, sigInfo{signo: SIGILL, code: illIllopc, addr: stop.PC, fault: true})
	case machine.StopPrivileged:
		p.log.Warn("privileged instruction", "pc", hex32(stop.PC), "word", hex32(stop.Word), "tid", t.tid)
		p.forceSignal(t, sigInfo{signo: SIGILL, code: illPrvopc, addr: stop.PC, fault: true})
	case machine.StopPrivilegedRegister:
		p.log.Warn("privileged register", "pc", hex32(stop.PC), "word", hex32(stop.Word), "tid", t.tid)
		p.forceSignal(t, sigInfo{signo: SIGILL, code: illPrvreg, addr: stop.PC, fault: true})
	case machine.StopFault:
		if stop.Fault != nil && p.growStack(stop.Fault.Addr) {
			return // the instruction runs again
		}
		info := sigInfo{signo: SIGSEGV, code: segvAccerr, fault: true}
		if stop.Fault != nil {
			info.addr = stop.Fault.Addr
			if stop.Fault.Unmapped {
				info.code = segvMaperr
			}
		}
		p.forceSignal(t, info)
	case machine.StopUnaligned:
		info := sigInfo{signo: SIGBUS, code: busAdraln, fault: true}
		if stop.Fault != nil {
			info.addr = stop.Fault.Addr
		}
		p.forceSignal(t, info)
	case machine.StopTrap:
		info := sigInfo{signo: SIGFPE, code: fpeCondtrap, addr: stop.PC, fault: true}
		if stop.Overflow {
			info.code = fpeIntovf
		}
		p.forceSignal(t, info)
	case machine.StopFPE:
		// qemu-hppa 7.2 does not say which IEEE exception trapped.
		p.forceSignal(t, sigInfo{signo: SIGFPE, addr: stop.PC, fault: true})
	default:
		p.log.Error("unknown CPU stop", "reason", stop.Reason, "pc", hex32(stop.PC))
		p.forceSignal(t, sigInfo{signo: SIGILL, code: illIllopc, addr: stop.PC, fault: true})
	}
}

// gateway emulates the code of the gateway page at entry.
func (p *Process) gateway(t *thread, entry uint32) {
	c := t.cpu
	switch entry {
	case gatewaySyscall:
		p.syscall(t)
	case gatewayLWS:
		c.GR[21] = uint32(p.lightweightCAS(c))
		p.returnToCaller(t)
	case gatewaySetTP:
		c.CR[controlRegThread] = c.GR[26]
		p.returnToCaller(t)
	case 0: // a call through a null function pointer
		p.forceSignal(t, sigInfo{signo: SIGSEGV, code: segvMaperr, addr: entry, fault: true})
	default:
		// Not an entry point. The kernel's page holds break instructions
		// there; qemu-hppa raises SIGILL, which is what we match.
		p.forceSignal(t, sigInfo{signo: SIGILL, code: illIllopc, addr: entry, fault: true})
	}
}

// returnToCaller resumes t after the branch that entered the gateway page,
// at the return address the branch left in r31.
func (p *Process) returnToCaller(t *thread) {
	ret := t.cpu.GR[31] | privUser
	t.cpu.IAOQFront, t.cpu.IAOQBack = ret, ret+4
}

// returnFromSyscall completes t's system call with result r28.
func (p *Process) returnFromSyscall(t *thread, r28 uint32) {
	t.cpu.GR[28] = r28
	p.returnToCaller(t)
}

// lightweightCAS is the gateway's atomic compare-and-swap. It returns the
// value for r21: 0, or a negative errno (glibc retries on EAGAIN, traps on
// EFAULT). Guest threads never run in parallel, so it is trivially atomic.
func (p *Process) lightweightCAS(c *machine.CPU) int32 {
	addr := c.GR[26]
	switch c.GR[20] {
	case lwsCAS32:
		if addr&3 != 0 || !p.writable(addr, 4) {
			return -int32(EFAULT)
		}
		cur, err := p.mem.LoadWord(addr)
		if err != nil {
			return -int32(EFAULT)
		}
		if cur == c.GR[25] {
			if p.mem.StoreWord(addr, c.GR[24]) != nil {
				return -int32(EFAULT)
			}
		}
		c.GR[28] = cur
		return 0
	case lwsCAS:
		size := c.GR[23]
		if size > 3 {
			return -int32(ENOSYS)
		}
		n := uint32(1) << size
		oldAddr, newAddr := c.GR[25], c.GR[24]
		if (addr|oldAddr|newAddr)&(n-1) != 0 || !p.writable(addr, n) {
			return -int32(EFAULT)
		}
		cur, old, repl := make([]byte, n), make([]byte, n), make([]byte, n)
		if p.mem.ReadBytes(addr, cur) != nil || p.mem.ReadBytes(oldAddr, old) != nil || p.mem.ReadBytes(newAddr, repl) != nil {
			return -int32(EFAULT)
		}
		if string(cur) != string(old) {
			c.GR[28] = 1
			return 0
		}
		if p.mem.WriteBytes(addr, repl) != nil {
			return -int32(EFAULT)
		}
		c.GR[28] = 0
		return 0
	}
	return -int32(ENOSYS)
}

// writable reports whether [addr, addr+n) is mapped readable and writable.
func (p *Process) writable(addr, n uint32) bool {
	for a := addr &^ (machine.PageSize - 1); a < addr+n; a += machine.PageSize {
		prot, ok := p.mem.Mapped(a)
		if !ok || prot&(machine.ProtRead|machine.ProtWrite) != machine.ProtRead|machine.ProtWrite {
			return false
		}
	}
	return true
}

// hex32 formats an address or instruction word for diagnostics.
type hex32 uint32

func (h hex32) String() string { return fmt.Sprintf("0x%08x", uint32(h)) }

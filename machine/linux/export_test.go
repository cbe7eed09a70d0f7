package linux

import "github.com/synodvm/synod/machine"

// Hooks for the external tests: they drive the kernel directly, without
// executing guest instructions.

// MainCPU is the first thread's CPU.
func MainCPU(p *Process) *machine.CPU { return p.threads[0].cpu }

// TestReturnAddress is where system calls made through Syscall return.
const TestReturnAddress = 0x10000

// CPUOf returns the CPU of thread tid, of any process, or nil.
func CPUOf(p *Process, tid uint32) *machine.CPU {
	if t := p.k.thread(tid); t != nil {
		return t.cpu
	}
	return nil
}

// Syscall makes thread tid enter the gateway page for system call nr with
// args in r26, r25, ... and reports r28 afterwards and whether the thread
// is now blocked in the call.
func Syscall(p *Process, tid, nr uint32, args ...uint32) (r28 uint32, blocked bool) {
	t := p.k.thread(tid)
	c := t.cpu
	c.GR[20] = nr
	for i, r := range []int{26, 25, 24, 23, 22, 21} {
		c.GR[r] = 0
		if i < len(args) {
			c.GR[r] = args[i]
		}
	}
	c.GR[31] = TestReturnAddress | privUser
	c.GR[28] = 0xdeadbeef
	c.IAOQFront, c.IAOQBack = gatewaySyscall|privUser, gatewaySyscall+4|privUser
	t.proc.gateway(t, gatewaySyscall)
	return c.GR[28], t.wait != nil
}

// Blocked reports whether thread tid waits in a system call.
func Blocked(p *Process, tid uint32) bool { return p.k.thread(tid).wait != nil }

// MemoryOf is the memory of process pid of p's guest, or nil.
func MemoryOf(p *Process, pid uint32) *machine.Memory {
	if q := p.k.process(pid); q != nil {
		return q.mem
	}
	return nil
}

// Stopped reports whether process pid of p's guest is stopped.
func Stopped(p *Process, pid uint32) bool { return p.k.process(pid).stopped }

// Processes lists the pids of p's guest, zombies included.
func Processes(p *Process) []uint32 {
	var pids []uint32
	for _, q := range p.k.procs {
		pids = append(pids, q.cfg.PID)
	}
	return pids
}

// Recheck re-examines every waiting thread, as the scheduler does.
func Recheck(p *Process) { p.k.recheckWaits() }

// DeliverSignals acts on thread tid's pending signals, as before it runs.
func DeliverSignals(p *Process, tid uint32) {
	t := p.k.thread(tid)
	t.proc.deliverSignals(t)
}

// LightweightCAS enters the gateway's compare-and-swap entry with r20=op,
// r26..r23 = args, and returns r28 and r21.
func LightweightCAS(p *Process, op uint32, args ...uint32) (r28, r21 uint32) {
	t := p.threads[0]
	c := t.cpu
	c.GR[20] = op
	for i, r := range []int{26, 25, 24, 23} {
		if i < len(args) {
			c.GR[r] = args[i]
		}
	}
	c.GR[31] = TestReturnAddress | privUser
	p.gateway(t, gatewayLWS)
	return c.GR[28], c.GR[21]
}

// HandleStop makes the kernel act on a CPU stop of thread tid, as after
// the thread ran.
func HandleStop(p *Process, tid uint32, stop machine.Stop) { p.handleStop(p.threadByTID(tid), stop) }

package linux

// syscallInfo is one row of the system call table.
type syscallInfo struct {
	name string
	fn   sysHandler
	// partial is empty for a complete implementation, else what is missing.
	partial string
}

// sysArgs are the six argument registers: r26, r25, r24, r23, r22, r21.
type sysArgs [6]uint32

// sysHandler implements one system call for thread t.
type sysHandler func(p *Process, t *thread, a sysArgs) sysResult

// sysAction says what the dispatcher does after a handler.
type sysAction uint8

const (
	actReturn  sysAction = iota // return ret in r28 to the caller
	actBlocked                  // the thread waits (t.wait is set); the call runs again or completes later
	actDone                     // the handler set the registers itself (exit, rt_sigreturn, clone child)
)

type sysResult struct {
	ret    uint32
	action sysAction
}

func ok(v uint32) sysResult  { return sysResult{ret: v} }
func fail(e Errno) sysResult { return sysResult{ret: e.ret()} }
func done() sysResult        { return sysResult{action: actDone} }
func result(v uint32, e Errno) sysResult {
	if e != 0 {
		return fail(e)
	}
	return ok(v)
}

// SyscallInfo describes one entry of the system call table, for
// documentation and tests.
type SyscallInfo struct {
	Number  uint32
	Name    string
	Handled bool
	Partial string // empty when the implementation is complete
}

// Syscalls lists the system call table in number order.
func Syscalls() []SyscallInfo {
	var out []SyscallInfo
	for nr, s := range syscallTable {
		if s.name != "" {
			out = append(out, SyscallInfo{Number: uint32(nr), Name: s.name, Handled: s.fn != nil, Partial: s.partial})
		}
	}
	return out
}

// syscall dispatches the system call t entered the gateway page for.
func (p *Process) syscall(t *thread) {
	c := t.cpu
	nr := c.GR[20]
	var s syscallInfo
	if int(nr) < len(syscallTable) {
		s = syscallTable[nr]
	}
	if s.fn == nil {
		if !p.warned[nr] {
			p.warned[nr] = true
			name := s.name
			if name == "" {
				name = "unknown"
			}
			p.log.Warn("unsupported system call returns ENOSYS", "nr", nr, "name", name)
		}
		t.wait = nil
		p.returnFromSyscall(t, ENOSYS.ret())
		return
	}
	r := s.fn(p, t, sysArgs{c.GR[26], c.GR[25], c.GR[24], c.GR[23], c.GR[22], c.GR[21]})
	switch r.action {
	case actReturn:
		t.wait = nil
		p.returnFromSyscall(t, r.ret)
	case actBlocked, actDone:
	}
}

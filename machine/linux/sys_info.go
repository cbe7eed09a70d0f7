package linux

import (
	"encoding/binary"

	"github.com/synodvm/synod/machine"
)

// Identity and limits: answers from the Config, the same on every replica.

const (
	utsFieldBytes = 65
	utsRelease    = "6.1.0"
	utsVersion    = "#1 SMP synod"
	utsMachine    = "parisc"
	clockTicks    = 100

	rlimitStack    = 3
	rlimitNofile   = 7
	rlimitAS       = 9
	rlimitNlimits  = 16
	rlimInfinity32 = 0xffffffff
	rlimInfinity64 = ^uint64(0)
)

func sysGetpid(p *Process, t *thread, _ sysArgs) sysResult  { return ok(p.cfg.PID) }
func sysGetppid(p *Process, t *thread, _ sysArgs) sysResult { return ok(p.ppid) }
func sysGetuid(p *Process, t *thread, _ sysArgs) sysResult  { return ok(p.cfg.UID) }
func sysGetgid(p *Process, t *thread, _ sysArgs) sysResult  { return ok(p.cfg.GID) }

func (p *Process) writeIDs(a sysArgs, id uint32) sysResult {
	for _, addr := range a[:3] {
		if e := p.writeU32(addr, id); e != 0 {
			return fail(e)
		}
	}
	return ok(0)
}

// getresuid(ruid, euid, suid)
func sysGetresuid(p *Process, t *thread, a sysArgs) sysResult { return p.writeIDs(a, p.cfg.UID) }

// getresgid(rgid, egid, sgid)
func sysGetresgid(p *Process, t *thread, a sysArgs) sysResult { return p.writeIDs(a, p.cfg.GID) }

// uname(buf)
func sysUname(p *Process, t *thread, a sysArgs) sysResult {
	b := make([]byte, 6*utsFieldBytes)
	for i, s := range []string{"Linux", p.cfg.Hostname, utsRelease, utsVersion, utsMachine, "(none)"} {
		copy(b[i*utsFieldBytes:(i+1)*utsFieldBytes-1], s)
	}
	return result(0, p.writeUser(a[0], b))
}

// rlimit returns the soft and hard limit of a resource.
func (p *Process) rlimit(resource uint32) (cur, max uint64, e Errno) {
	switch {
	case resource >= rlimitNlimits:
		return 0, 0, EINVAL
	case resource == rlimitStack:
		return stackSize, rlimInfinity64, 0
	case resource == rlimitNofile:
		return maxFDs, maxFDs, 0
	case resource == rlimitAS && p.cfg.MemoryLimit != 0:
		return p.cfg.MemoryLimit, p.cfg.MemoryLimit, 0
	}
	return rlimInfinity64, rlimInfinity64, 0
}

func clamp32(v uint64) uint32 {
	if v > rlimInfinity32 {
		return rlimInfinity32
	}
	return uint32(v)
}

// getrlimit(resource, rlim)
func sysGetrlimit(p *Process, t *thread, a sysArgs) sysResult {
	cur, max, e := p.rlimit(a[0])
	if e != 0 {
		return fail(e)
	}
	b := make(be, 8)
	b.u32(0, clamp32(cur))
	b.u32(4, clamp32(max))
	return result(0, p.writeUser(a[1], b))
}

// setrlimit(resource, rlim): accepted and not enforced.
func sysSetrlimit(p *Process, t *thread, a sysArgs) sysResult {
	_, _, e := p.rlimit(a[0])
	return result(0, e)
}

// prlimit64(pid, resource, new, old)
func sysPrlimit64(p *Process, t *thread, a sysArgs) sysResult {
	if a[0] != 0 && a[0] != p.cfg.PID {
		return fail(ESRCH)
	}
	cur, max, e := p.rlimit(a[1])
	if e != 0 {
		return fail(e)
	}
	if a[3] != 0 {
		b := make(be, 16)
		b.u64(0, cur)
		b.u64(8, max)
		if e := p.writeUser(a[3], b); e != 0 {
			return fail(e)
		}
	}
	return ok(0)
}

// getgroups(size, list): the guest belongs to no supplementary group.
func sysGetgroups(p *Process, t *thread, a sysArgs) sysResult { return ok(0) }

const (
	prioProcess = 0
	prioUser    = 2
	niceMin     = -20
	niceMax     = 19
)

// priorityTarget checks that which and who name the guest itself: the
// process (or one of its threads), its process group, or its user.
func (p *Process) priorityTarget(which, who uint32) Errno {
	switch {
	case which > prioUser:
		return EINVAL
	case who == 0, which == prioUser && who == p.cfg.UID, which == prioProcess && p.threadByTID(who) != nil:
		return 0
	}
	return ESRCH
}

// getpriority(which, who): the kernel answers 20 - nice, so that the
// result is never negative; glibc converts it back.
func sysGetpriority(p *Process, t *thread, a sysArgs) sysResult {
	if e := p.priorityTarget(a[0], a[1]); e != 0 {
		return fail(e)
	}
	return ok(uint32(20 - p.nice))
}

// setpriority(which, who, nice): remembered for getpriority; the
// scheduler gives every thread the same share whatever its niceness.
func sysSetpriority(p *Process, t *thread, a sysArgs) sysResult {
	if e := p.priorityTarget(a[0], a[1]); e != 0 {
		return fail(e)
	}
	p.nice = min(max(int32(a[2]), niceMin), niceMax)
	return ok(0)
}

// The memory figures sysinfo reports. A replicated guest must see the same
// numbers on every node, so they describe the emulated machine, not the
// host: glibc reads them for sysconf(_SC_PHYS_PAGES), which qsort uses to
// choose its algorithm.
const (
	sysinfoTotalPages = 1 << 18 // 1 GiB in 4 KiB units
	sysinfoFreePages  = 1 << 17
)

// sysinfo(info): uptime from the guest's monotonic clock, no load, the
// fixed memory figures, no swap, and every thread of every process as
// procs, as Linux counts them.
func sysSysinfo(p *Process, t *thread, a sysArgs) sysResult {
	b := make([]byte, 64)
	put := func(off int, v uint32) { binary.BigEndian.PutUint32(b[off:], v) }
	put(0, uint32(p.env.Clock(p.k.instructions).Monotonic/1e9))
	put(16, sysinfoTotalPages)
	put(20, sysinfoFreePages)
	binary.BigEndian.PutUint16(b[40:], uint16(len(p.k.runq)))
	put(52, machine.PageSize)
	return result(0, p.writeUser(a[0], b))
}

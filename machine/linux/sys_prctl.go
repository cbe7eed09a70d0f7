package linux

import "path"

// prctl: the options programs use to name their threads and to set up a
// daemon. Each is kernel state, kept per thread or per process as Linux
// keeps it; the misaligned-access policy is fixed.

const (
	prSetPdeathsig  = 1
	prGetPdeathsig  = 2
	prGetDumpable   = 3
	prSetDumpable   = 4
	prGetUnalign    = 5
	prSetUnalign    = 6
	prSetName       = 15
	prGetName       = 16
	prSetNoNewPrivs = 38
	prGetNoNewPrivs = 39

	// prUnalignNoprint: misaligned accesses are completed without a word
	// (see package machine); prUnalignSigbus would ask for SIGBUS instead.
	prUnalignNoprint = 1
	prUnalignSigbus  = 2

	// commBytes is the size of a thread's name with its NUL (TASK_COMM_LEN).
	commBytes = 16

	// nrPrctl keys the one-time warning about options not implemented.
	nrPrctl = 172
)

// initialComm is the name of the first thread: the base name of the
// program, as the kernel takes it from the file executed. (Under qemu-hppa
// it is the host process's name, "qemu-hppa".)
func initialComm(cfg *Config) string {
	return truncateComm(path.Base(cfg.execfn()))
}

func truncateComm(name string) string { return name[:min(len(name), commBytes-1)] }

// prctl(option, arg2, arg3, arg4, arg5)
func sysPrctl(p *Process, t *thread, a sysArgs) sysResult {
	option, arg := a[0], a[1]
	switch option {
	case prSetName:
		name, e := p.readStringPrefix(arg, commBytes-1)
		if e != 0 {
			return fail(e)
		}
		t.comm = name
		return ok(0)
	case prGetName:
		b := make([]byte, commBytes)
		copy(b, t.comm)
		return result(0, p.writeUser(arg, b))
	case prSetPdeathsig:
		if arg > numSignals {
			return fail(EINVAL)
		}
		t.pdeathsig = arg
		return ok(0)
	case prGetPdeathsig:
		return result(0, p.writeU32(arg, t.pdeathsig))
	case prSetDumpable:
		if arg > 1 {
			return fail(EINVAL)
		}
		p.undumpable = arg == 0
		return ok(0)
	case prGetDumpable:
		return ok(b2u(!p.undumpable))
	case prGetUnalign:
		return result(0, p.writeU32(arg, prUnalignNoprint))
	case prSetUnalign:
		if arg&prUnalignSigbus != 0 {
			return fail(EINVAL)
		}
		return ok(0)
	case prSetNoNewPrivs:
		if arg != 1 || a[2]|a[3]|a[4] != 0 {
			return fail(EINVAL)
		}
		t.noNewPrivs = true
		return ok(0)
	case prGetNoNewPrivs:
		if arg|a[2]|a[3]|a[4] != 0 {
			return fail(EINVAL)
		}
		return ok(b2u(t.noNewPrivs))
	}
	if !p.warned[nrPrctl] {
		p.warned[nrPrctl] = true
		p.log.Warn("prctl option not supported; returning EINVAL", "option", option)
	}
	return fail(EINVAL)
}

func b2u(b bool) uint32 {
	if b {
		return 1
	}
	return 0
}

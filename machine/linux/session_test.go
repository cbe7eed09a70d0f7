package linux_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/synodvm/synod/machine/linux"
)

// TestGuestLeadsItsSessionAndGroup: the answers qemu-hppa gives a program
// that is its own session and process group leader (run under setsid -w).
func TestGuestLeadsItsSessionAndGroup(t *testing.T) {
	const (
		nrSetpgid = 57
		nrGetpgrp = 65
		nrSetsid  = 66
		nrGetpgid = 132
		nrGetsid  = 147
		noSuchPID = 4194305 // above Linux's highest pid
	)
	p, _ := newKernel(t)
	tid, _ := spawn(t, p, scratch(t, p))
	call := func(nr uint32, args ...uint32) uint32 { return first(linux.Syscall(p, mainTID, nr, args...)) }

	require.Equal(t, uint32(mainTID), call(nrGetpgrp))
	for _, nr := range []uint32{nrGetpgid, nrGetsid} {
		for _, pid := range []uint32{0, mainTID, tid} {
			require.Equal(t, uint32(mainTID), call(nr, pid), "call %d of pid %d", nr, pid)
		}
		require.Equal(t, neg(linux.ESRCH), call(nr, noSuchPID))
		require.Equal(t, neg(linux.ESRCH), call(nr, ^uint32(0)))
	}
	require.Equal(t, neg(linux.EPERM), call(nrSetsid), "already a group leader")
	require.Equal(t, neg(linux.EPERM), call(nrSetpgid, 0, 0), "a session leader")
	require.Equal(t, neg(linux.EPERM), call(nrSetpgid, mainTID, mainTID))
	require.Equal(t, neg(linux.EPERM), call(nrSetpgid, 0, noSuchPID))
	require.Equal(t, neg(linux.EINVAL), call(nrSetpgid, 0, ^uint32(0)))
	require.Equal(t, neg(linux.EINVAL), call(nrSetpgid, ^uint32(0), 0), "pgid defaults to the negative pid")
	require.Equal(t, neg(linux.ESRCH), call(nrSetpgid, noSuchPID, 0))
	require.Equal(t, neg(linux.EINVAL), call(nrSetpgid, tid, 0), "not the thread group leader")
}

package linux_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/synodvm/synod/machine/linux"
)

// TestTableCoversStaticGlibc checks that the system calls static glibc
// programs make (issue #2's list, and what qemu-hppa's strace shows for the
// corpus kinds of program) have handlers.
func TestTableCoversStaticGlibc(t *testing.T) {
	handled := map[string]bool{}
	numbers := map[string]uint32{}
	for _, s := range linux.Syscalls() {
		require.NotEmpty(t, s.Name)
		require.NotContains(t, numbers, s.Name, "each name appears once")
		numbers[s.Name] = s.Number
		handled[s.Name] = s.Handled
		if !s.Handled {
			require.Empty(t, s.Partial, "%s: only handled calls carry notes", s.Name)
		}
	}
	for _, name := range []string{
		"brk", "mmap2", "munmap", "mprotect", "madvise", "mremap", "set_tid_address", "set_robust_list",
		"getrlimit", "prlimit64", "readlink", "getrandom", "statx", "fstat64", "fstatat64", "ioctl",
		"read", "write", "readv", "writev", "pread64", "openat", "close", "lseek", "_llseek",
		"clock_gettime", "clock_gettime64", "gettimeofday", "time", "clock_nanosleep", "clock_nanosleep_time64",
		"nanosleep", "exit", "exit_group", "getpid", "gettid", "getppid", "getuid", "uname", "sched_yield",
		"sched_getaffinity", "rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "sigaltstack", "tgkill",
		"kill", "tkill", "clone", "futex", "futex_time64", "socket", "setsockopt", "getsockopt", "bind",
		"listen", "accept", "accept4", "connect", "getsockname", "getpeername", "poll", "ppoll",
		"ppoll_time64", "shutdown", "sendto", "recvfrom", "fcntl64", "pipe2", "dup", "dup3", "pselect6",
		"epoll_wait", "getdents64",
	} {
		require.True(t, handled[name], "%s has a handler", name)
	}
	// Numbers that differ from other ports, straight from arch/parisc.
	require.Equal(t, uint32(173), numbers["rt_sigreturn"])
	require.Equal(t, uint32(120), numbers["clone"])
	require.Equal(t, uint32(422), numbers["futex_time64"])
	require.Equal(t, uint32(349), numbers["statx"])
}

package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
)

// Corpus programs that run other guest programs (execve, system, popen,
// posix_spawn) need, under qemu-hppa, a host kernel that runs hppa
// binaries with qemu-hppa: binfmt_misc. The runner registers qemu-hppa in
// a user namespace's own binfmt_misc (Linux 6.7 and later), where a
// mount namespace also lets a case's root directory stand in for the
// host's files (a guest /bin/sh for system()). Nothing outside the
// namespace changes. Under synod run, the root is --root.

// binfmtRegistration makes the kernel run 32-bit big-endian PA-RISC
// executables with qemu-hppa, opened at registration (F) and with argv[0]
// preserved (P), as qemu-binfmt-conf.sh registers it.
const binfmtRegistration = `:hppa:M::\x7fELF\x01\x02\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\x0f:` +
	`\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff:%s:FP`

// namespaceScript runs in the namespace: it mounts binfmt_misc, registers
// qemu-hppa ($1), binds every file of the root ($2, may be empty) over the
// host path it names, and execs the rest of its arguments.
const namespaceScript = `set -e
qemu=$1 root=$2
shift 2
mount -t binfmt_misc none /proc/sys/fs/binfmt_misc
printf "$REGISTRATION" > /proc/sys/fs/binfmt_misc/register
if [ -n "$root" ]; then
	for f in $(cd "$root" && find . -type f -o -type l); do
		mount --bind "$root/$f" "/${f#./}"
	done
fi
exec "$@"`

var (
	namespaceOnce   sync.Once
	namespaceReason string // why qemu-hppa cannot run a case that execs; "" when it can
)

// qemuCanExec reports whether qemu-hppa can run corpus cases that exec
// other guest programs here, or why not.
func qemuCanExec(qemu string) (bool, string) {
	namespaceOnce.Do(func() {
		out, err := namespaceCommand(context.Background(), qemu, "", "true").CombinedOutput()
		if err != nil {
			namespaceReason = fmt.Sprintf("no binfmt_misc in a user namespace for qemu-hppa (%v: %s)", err, strings.TrimSpace(string(out)))
		}
	})
	return namespaceReason == "", namespaceReason
}

// namespaceCommand runs argv in a new user and mount namespace where the
// kernel runs hppa programs with qemu, and root's files (if root is not
// empty) replace the host's.
func namespaceCommand(ctx context.Context, qemu, root string, argv ...string) *exec.Cmd {
	args := append([]string{"-U", "-r", "-m", "sh", "-c", namespaceScript, "sh", qemu, root}, argv...)
	cmd := exec.CommandContext(ctx, "unshare", args...)
	cmd.Env = append(os.Environ(), "REGISTRATION="+fmt.Sprintf(binfmtRegistration, qemu))
	// The guest's processes are host processes here: at the deadline,
	// kill them all (those still in the group), not unshare alone.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	boundedWait(cmd)
	return cmd
}

// caseCommand is the host command that runs corpus case c under r, or
// the reason r cannot run it here.
func caseCommand(ctx context.Context, r guestRunner, c corpusCase) (*exec.Cmd, string) {
	root := ""
	if c.root != "" {
		root, _ = filepath.Abs(filepath.Join(corpusDir, c.root))
	}
	if strings.HasPrefix(r.name, "synod") || !c.execs {
		if root != "" {
			r.prefix = append(append([]string{}, r.prefix...), "--root", root)
		}
		return r.command(ctx, corpusDir, c.binary, c.args...), ""
	}
	qemu := r.prefix[0]
	if ok, reason := qemuCanExec(qemu); !ok {
		return nil, reason
	}
	inner := r.command(ctx, corpusDir, c.binary, c.args...)
	cmd := namespaceCommand(ctx, qemu, root, inner.Args...)
	cmd.Dir = inner.Dir
	cmd.Env = append(cmd.Env, inner.Env...)
	return cmd, ""
}

// Package hostenv is the linux.Env of `synod run`: the guest's clocks,
// random bytes, files, sockets and console are the host's. Sockets are
// non-blocking host sockets; when the guest process is idle, Wait blocks in
// one host poll on everything it waits for.
//
// It is the one package under machine that touches the host, by design: it
// is the outside of the Env boundary, and nothing in machine imports it.
// It uses the standard library only.
//
// The guest's working directory is this host process's: chdir moves it.
// That is what qemu-hppa does too; the kernel moves it to each guest
// process's own as it switches between them.
package hostenv

import (
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"

	"github.com/synodvm/synod/machine/linux"
)

// Env answers the guest from the host. It is not safe for concurrent use;
// one goroutine drives the process and the Env.
type Env struct {
	objects map[linux.Handle]*object
	next    linux.Handle
	start   time.Time // origin of the guest's CLOCK_MONOTONIC
	root    string    // SetRoot's directory, or ""
}

// object is a host file descriptor the guest holds through a handle.
type object struct {
	fd      int
	path    string // for files and directories
	console bool   // stdin/stdout/stderr: never closed by the guest
	appends bool   // opened O_APPEND
}

// New returns an Env whose console is this process's stdin, stdout and stderr.
func New() *Env {
	e := &Env{objects: map[linux.Handle]*object{}, next: linux.Stderr + 1, start: time.Now()}
	for _, h := range []linux.Handle{linux.Stdin, linux.Stdout, linux.Stderr} {
		e.objects[h] = &object{fd: int(h), console: true}
	}
	return e
}

func (e *Env) add(o *object) linux.Handle {
	h := e.next
	e.next++
	e.objects[h] = o
	return h
}

func (e *Env) get(h linux.Handle) (*object, linux.Errno) {
	o := e.objects[h]
	if o == nil {
		return nil, linux.EBADF
	}
	return o, 0
}

// do runs op on h's host descriptor and converts its error.
func (e *Env) do(h linux.Handle, op func(fd int) error) linux.Errno {
	o, en := e.get(h)
	if en != 0 {
		return en
	}
	return errno(op(o.fd))
}

// Clock reads the host clocks; the instruction count plays no part here.
// The monotonic clock counts from New.
func (e *Env) Clock(uint64) linux.Clock {
	now := time.Now()
	return linux.Clock{Realtime: now.UnixNano(), Monotonic: int64(now.Sub(e.start))}
}

func (e *Env) Random(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

func (e *Env) Open(path string, flags, mode uint32) (linux.Handle, linux.Errno) {
	fd, err := syscall.Open(e.host(path), hostOpenFlags(flags)|syscall.O_CLOEXEC, mode)
	if err != nil {
		return 0, errno(err)
	}
	return e.add(&object{fd: fd, path: e.host(path), appends: flags&linux.O_APPEND != 0}), 0
}

func (e *Env) Close(h linux.Handle) linux.Errno {
	o, en := e.get(h)
	if en != 0 {
		return en
	}
	delete(e.objects, h)
	if o.console {
		return 0
	}
	return errno(syscall.Close(o.fd))
}

// readiness returns the poll events of fd now.
func readiness(fd int) linux.PollEvents {
	fds := []pollFD{{fd: int32(fd), events: int16(linux.PollIn)}}
	if _, err := poll(fds, 0); err != nil {
		return linux.PollErr
	}
	return linux.PollEvents(fds[0].revents)
}

func (e *Env) Read(h linux.Handle, n int) ([]byte, linux.Errno) {
	o, en := e.get(h)
	if en != 0 {
		return nil, en
	}
	// The console is shared with whoever started synod, so it stays in
	// blocking mode; ask first whether a read would wait.
	if o.console {
		switch ev := readiness(o.fd); {
		case ev&linux.PollNval != 0:
			return nil, linux.EBADF
		case ev == 0:
			return nil, linux.EAGAIN
		}
	}
	b := make([]byte, n)
	got, err := syscall.Read(o.fd, b)
	if err != nil {
		return nil, errno(err)
	}
	return b[:got], 0
}

func (e *Env) Write(h linux.Handle, data []byte) (int, linux.Errno) {
	o, en := e.get(h)
	if en != 0 {
		return 0, en
	}
	if o.console {
		// Console output is written out in full, as a terminal would take it.
		done := 0
		for done < len(data) {
			n, err := syscall.Write(o.fd, data[done:])
			if err != nil && !errors.Is(err, syscall.EINTR) {
				return done, errno(err)
			}
			done += max(n, 0)
		}
		return done, 0
	}
	n, err := syscall.Write(o.fd, data)
	if err != nil {
		return 0, errno(err)
	}
	return n, 0
}

func (e *Env) Pread(h linux.Handle, n int, offset int64) ([]byte, linux.Errno) {
	o, en := e.get(h)
	if en != 0 {
		return nil, en
	}
	b := make([]byte, n)
	got, err := syscall.Pread(o.fd, b, offset)
	if err != nil {
		return nil, errno(err)
	}
	return b[:got], 0
}

func (e *Env) Pwrite(h linux.Handle, data []byte, offset int64) (int, linux.Errno) {
	o, en := e.get(h)
	if en != 0 {
		return 0, en
	}
	n, err := syscall.Pwrite(o.fd, data, offset)
	if err != nil {
		return 0, errno(err)
	}
	return n, 0
}

func (e *Env) WriteBack(h linux.Handle, data []byte, offset int64) (int, linux.Errno) {
	o, en := e.get(h)
	if en != 0 {
		return 0, en
	}
	if !o.appends {
		return e.Pwrite(h, data, offset)
	}
	// Linux's pwrite appends on an O_APPEND descriptor; its page
	// write-back does not. Write with the flag cleared for a moment.
	if err := setAppend(o.fd, false); err != nil {
		return 0, errno(err)
	}
	n, err := syscall.Pwrite(o.fd, data, offset)
	if restoreErr := setAppend(o.fd, true); err == nil {
		err = restoreErr
	}
	if err != nil {
		return 0, errno(err)
	}
	return n, 0
}

// setAppend sets or clears O_APPEND on a host descriptor.
func setAppend(fd int, on bool) error {
	flags, _, en := syscall.Syscall(syscall.SYS_FCNTL, uintptr(fd), syscall.F_GETFL, 0)
	if en != 0 {
		return fmt.Errorf("fcntl F_GETFL: %w", en)
	}
	flags &^= syscall.O_APPEND
	if on {
		flags |= syscall.O_APPEND
	}
	if _, _, en := syscall.Syscall(syscall.SYS_FCNTL, uintptr(fd), syscall.F_SETFL, flags); en != 0 {
		return fmt.Errorf("fcntl F_SETFL: %w", en)
	}
	return nil
}

func (e *Env) Seek(h linux.Handle, offset int64, whence int) (int64, linux.Errno) {
	o, en := e.get(h)
	if en != 0 {
		return 0, en
	}
	off, err := syscall.Seek(o.fd, offset, whence)
	if err != nil {
		return 0, errno(err)
	}
	return off, 0
}

func (e *Env) Truncate(h linux.Handle, size int64) linux.Errno {
	return e.do(h, func(fd int) error { return syscall.Ftruncate(fd, size) })
}

func (e *Env) Stat(h linux.Handle) (linux.Stat, linux.Errno) {
	o, en := e.get(h)
	if en != 0 {
		return linux.Stat{}, en
	}
	var st syscall.Stat_t
	if err := syscall.Fstat(o.fd, &st); err != nil {
		return linux.Stat{}, errno(err)
	}
	return guestStat(&st), 0
}

func (e *Env) StatPath(path string, follow bool) (linux.Stat, linux.Errno) {
	var st syscall.Stat_t
	var err error
	if follow {
		err = syscall.Stat(e.host(path), &st)
	} else {
		err = syscall.Lstat(e.host(path), &st)
	}
	if err != nil {
		return linux.Stat{}, errno(err)
	}
	return guestStat(&st), 0
}

func guestStat(st *syscall.Stat_t) linux.Stat {
	return linux.Stat{
		Dev: st.Dev, Ino: st.Ino, Mode: st.Mode, Nlink: uint32(st.Nlink), UID: st.Uid, GID: st.Gid,
		Rdev: st.Rdev, Size: st.Size, Blksize: int32(st.Blksize), Blocks: st.Blocks,
		Atime: st.Atim.Nano(), Mtime: st.Mtim.Nano(), Ctime: st.Ctim.Nano(),
	}
}

func (e *Env) Readlink(path string) (string, linux.Errno) {
	s, err := os.Readlink(e.host(path))
	if err != nil {
		return "", errno(err)
	}
	return s, 0
}

func (e *Env) ReadDir(h linux.Handle) ([]linux.DirEntry, linux.Errno) {
	o, en := e.get(h)
	if en != 0 {
		return nil, en
	}
	if o.path == "" {
		return nil, linux.ENOTDIR
	}
	list, err := os.ReadDir(o.path)
	if err != nil {
		return nil, errno(err)
	}
	out := make([]linux.DirEntry, 0, len(list)+2)
	for _, name := range []string{".", ".."} {
		var st syscall.Stat_t
		_ = syscall.Stat(o.path+"/"+name, &st)
		out = append(out, linux.DirEntry{Ino: st.Ino, Type: linux.DT_DIR, Name: name})
	}
	for _, d := range list {
		var st syscall.Stat_t
		_ = syscall.Lstat(o.path+"/"+d.Name(), &st)
		out = append(out, linux.DirEntry{Ino: st.Ino, Type: direntType(d.Type()), Name: d.Name()})
	}
	return out, 0
}

func direntType(m os.FileMode) uint8 {
	switch {
	case m.IsDir():
		return linux.DT_DIR
	case m&os.ModeSymlink != 0:
		return linux.DT_LNK
	case m&os.ModeNamedPipe != 0:
		return linux.DT_FIFO
	case m&os.ModeSocket != 0:
		return linux.DT_SOCK
	case m&os.ModeCharDevice != 0:
		return linux.DT_CHR
	case m.IsRegular():
		return linux.DT_REG
	}
	return linux.DT_UNKNOWN
}

func (e *Env) Unlink(path string, dir bool) linux.Errno {
	if dir {
		return errno(syscall.Rmdir(e.host(path)))
	}
	return errno(syscall.Unlink(e.host(path)))
}

func (e *Env) Mkdir(path string, mode uint32) linux.Errno {
	return errno(syscall.Mkdir(e.host(path), mode))
}

func (e *Env) Rename(from, to string) linux.Errno {
	return errno(syscall.Rename(e.host(from), e.host(to)))
}

// Getcwd asks the host kernel, as qemu-hppa does: the path it answers has
// no symlinks in it, unlike $PWD.
func (e *Env) Getcwd() (string, linux.Errno) {
	buf := make([]byte, syscall.PathMax)
	n, err := syscall.Getcwd(buf)
	if err != nil {
		return "", errno(err)
	}
	return string(buf[:max(n-1, 0)]), 0 // n counts the NUL
}

func (e *Env) Chdir(dir linux.FileRef) linux.Errno {
	if dir.Path != "" {
		return errno(syscall.Chdir(e.host(dir.Path)))
	}
	return e.do(dir.Handle, syscall.Fchdir)
}

// Link uses linkat, the one call that can follow a symlink or name the
// file by a descriptor.
func (e *Env) Link(from linux.FileRef, to string) linux.Errno {
	if from.Path == "" {
		return e.do(from.Handle, func(fd int) error { return linkat(fd, "", e.host(to), _AT_EMPTY_PATH) })
	}
	flags := 0
	if from.Follow {
		flags = _AT_SYMLINK_FOLLOW
	}
	return errno(linkat(_AT_FDCWD, e.host(from.Path), e.host(to), flags))
}

func (e *Env) Symlink(target, path string) linux.Errno {
	return errno(syscall.Symlink(target, e.host(path)))
}

// Chmod follows a final symlink whatever f says: Linux cannot change a
// symlink's mode.
func (e *Env) Chmod(f linux.FileRef, mode uint32) linux.Errno {
	if f.Path != "" {
		return errno(syscall.Chmod(e.host(f.Path), mode))
	}
	return e.do(f.Handle, func(fd int) error { return syscall.Fchmod(fd, mode) })
}

func (e *Env) Chown(f linux.FileRef, uid, gid uint32) linux.Errno {
	u, g := int(int32(uid)), int(int32(gid)) // KeepID is the host's -1 too
	switch {
	case f.Path == "":
		return e.do(f.Handle, func(fd int) error { return syscall.Fchown(fd, u, g) })
	case f.Follow:
		return errno(syscall.Chown(e.host(f.Path), u, g))
	}
	return errno(syscall.Lchown(e.host(f.Path), u, g))
}

// SetTimes passes UtimeNow and UtimeOmit on: the host numbers them alike.
func (e *Env) SetTimes(f linux.FileRef, atime, mtime linux.Timespec) linux.Errno {
	ts := [2]syscall.Timespec{{Sec: atime.Sec, Nsec: atime.Nsec}, {Sec: mtime.Sec, Nsec: mtime.Nsec}}
	if f.Path == "" {
		return e.do(f.Handle, func(fd int) error { return utimensat(fd, nil, &ts, 0) })
	}
	flags := 0
	if !f.Follow {
		flags = _AT_SYMLINK_NOFOLLOW
	}
	path, err := syscall.BytePtrFromString(e.host(f.Path))
	if err != nil {
		return linux.EINVAL
	}
	return errno(utimensat(_AT_FDCWD, path, &ts, flags))
}

func (e *Env) Statfs(f linux.FileRef) (linux.Statfs, linux.Errno) {
	var st syscall.Statfs_t
	if f.Path != "" {
		if err := syscall.Statfs(e.host(f.Path), &st); err != nil {
			return linux.Statfs{}, errno(err)
		}
	} else if en := e.do(f.Handle, func(fd int) error { return syscall.Fstatfs(fd, &st) }); en != 0 {
		return linux.Statfs{}, en
	}
	return linux.Statfs{
		Type: uint32(st.Type), Bsize: uint32(st.Bsize), Frsize: uint32(st.Frsize),
		Blocks: st.Blocks, Bfree: st.Bfree, Bavail: st.Bavail, Files: st.Files, Ffree: st.Ffree,
		Fsid: [2]uint32{uint32(st.Fsid.X__val[0]), uint32(st.Fsid.X__val[1])}, Namelen: uint32(st.Namelen), Flags: uint32(st.Flags),
	}, 0
}

func (e *Env) IsTerminal(h linux.Handle) bool {
	o, en := e.get(h)
	if en != 0 {
		return false
	}
	return isTerminal(o.fd)
}

// Poll asks the host, without waiting, which events are ready.
func (e *Env) Poll(requests []linux.PollRequest, ready []linux.PollEvents) {
	clear(ready)
	fds, index := e.pollFDs(requests, ready)
	if len(fds) > 0 {
		if _, err := poll(fds, 0); err == nil {
			for i, f := range fds {
				ready[index[i]] = linux.PollEvents(f.revents)
			}
		}
	}
}

// pollFDs builds the host poll set for requests; handles the Env does not
// know are marked POLLNVAL in out. index maps poll entries to requests.
func (e *Env) pollFDs(requests []linux.PollRequest, out []linux.PollEvents) ([]pollFD, []int) {
	var fds []pollFD
	var index []int
	for i, r := range requests {
		o := e.objects[r.Handle]
		if o == nil {
			out[i] = linux.PollNval
			continue
		}
		// hppa's poll bits are the generic Linux ones the host uses.
		fds = append(fds, pollFD{fd: int32(o.fd), events: int16(r.Events)})
		index = append(index, i)
	}
	return fds, index
}

// Wait blocks until something an idle process waits for may have happened
// (a handle became ready, the earliest deadline passed) or at most max,
// whichever comes first. The caller then runs the process again, which
// re-checks every waiting thread.
func (e *Env) Wait(ws linux.WaitSet, max time.Duration) error {
	out := make([]linux.PollEvents, len(ws.Handles))
	fds, _ := e.pollFDs(ws.Handles, out)
	for _, ev := range out {
		if ev != 0 {
			return nil // a closed handle is an event the guest must see
		}
	}
	timeout := max
	if ws.HasDeadline {
		left := time.Duration(ws.Deadline - e.Clock(0).Monotonic)
		if left <= 0 {
			return nil
		}
		timeout = min(timeout, left)
	}
	if _, err := poll(fds, timeout); err != nil && !errors.Is(err, syscall.EINTR) {
		return fmt.Errorf("poll: %w", err)
	}
	return nil
}

var _ linux.Env = (*Env)(nil)

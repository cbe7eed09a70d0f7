package replica

import (
	"encoding/binary"
	"net/netip"
	"strings"

	"github.com/synodvm/synod/machine/linux"
	"github.com/synodvm/synod/outputs"
)

// This file is the linux.Env face of the world: the guest's system calls
// answered from replicated state. The replicated machine never sees the
// host's file system (every replica would see a different one): its files
// are the world's tree (world_files.go). It has no outbound network (a
// connection would have to be actioned by one node and its replies
// ordered; not supported yet): those calls fail the way a sandbox would.

var _ linux.Env = (*world)(nil)

// monotonicOrigin keeps CLOCK_MONOTONIC far from zero, as on a real machine
// that has been up for a while; programs that treat zero as "unset" work.
const monotonicOrigin = 1_000_000_000_000

func (w *world) Clock(instructions uint64) linux.Clock {
	rt := w.timeBase + int64((instructions-w.timeInstr)*w.nanosPerInstruction)
	return linux.Clock{Realtime: rt, Monotonic: rt - w.bootTime + monotonicOrigin}
}

func (w *world) Random(n int) []byte {
	n = min(n, len(w.pool))
	b := append([]byte(nil), w.pool[:n]...)
	w.pool = w.pool[n:]
	if len(w.pool) < randomLowWater {
		w.refill()
	}
	return b
}

func (w *world) Open(path string, flags uint32, mode uint32) (linux.Handle, linux.Errno) {
	if strings.HasPrefix(path, diskDir) {
		return w.openDisk(path, flags)
	}
	return w.openFile(path, flags, mode)
}

func (w *world) Close(h linux.Handle) linux.Errno {
	o := w.objects[h]
	if o == nil {
		return linux.EBADF
	}
	delete(w.objects, h)
	switch o.kind {
	case kindDisk:
		w.closeDisk(h)
	case kindFile:
		w.files.Close(o.file)
	case kindListener:
		delete(w.listeners, o.port)
		for _, id := range o.backlog {
			w.hangUp(id, w.conns[id])
			delete(w.conns, id)
		}
	case kindConn:
		w.hangUp(o.conn, o.vc)
		delete(w.conns, o.conn)
	}
	return 0
}

func (w *world) conn(h linux.Handle) (*vconn, *object, linux.Errno) {
	o := w.objects[h]
	switch {
	case o == nil:
		return nil, nil, linux.EBADF
	case o.kind != kindConn:
		return nil, o, linux.ENOTCONN
	}
	return o.vc, o, 0
}

func (w *world) Read(h linux.Handle, n int) ([]byte, linux.Errno) {
	if o := w.objects[h]; o != nil && o.kind == kindConsole {
		if h == linux.Stdin {
			return w.stdin.read(n)
		}
		return nil, 0
	}
	if f := w.file(h); f != nil {
		return w.files.Read(f, n)
	}
	if d := w.disks.handles[h]; d != nil {
		b, err := w.Pread(h, n, d.pos)
		d.pos += int64(len(b))
		return b, err
	}
	c, _, errno := w.conn(h)
	if errno != 0 {
		return nil, errno
	}
	if len(c.in) == 0 {
		if c.peerClosed {
			return nil, 0
		}
		return nil, linux.EAGAIN
	}
	n = min(n, len(c.in))
	b := append([]byte(nil), c.in[:n]...)
	c.in = c.in[n:]
	return b, 0
}

func (w *world) Write(h linux.Handle, data []byte) (int, linux.Errno) {
	if o := w.objects[h]; o != nil && o.kind == kindConsole {
		if h == linux.Stdin {
			return 0, linux.EBADF
		}
		if len(data) > 0 {
			w.emitConsole(int(h), append([]byte(nil), data...))
		}
		return len(data), 0
	}
	if f := w.file(h); f != nil {
		return w.files.Write(f, data, w.now())
	}
	if d := w.disks.handles[h]; d != nil {
		n, err := w.Pwrite(h, data, d.pos)
		d.pos += int64(n)
		return n, err
	}
	c, o, errno := w.conn(h)
	if errno != 0 {
		return 0, errno
	}
	if c.guestShut || (c.peerClosed && w.down[o.conn.Node]) {
		return 0, linux.EPIPE
	}
	if len(data) > 0 {
		w.emit(o.conn.Node, outputs.Send{Conn: o.conn, Data: append([]byte(nil), data...)})
	}
	return len(data), 0
}

func (w *world) Pread(h linux.Handle, n int, offset int64) ([]byte, linux.Errno) {
	if f := w.file(h); f != nil {
		return w.files.Pread(f, n, offset)
	}
	if w.disks.handles[h] == nil {
		return nil, w.refuse(h, linux.ESPIPE)
	}
	b, _, errno := w.diskIO(h, false, nil, n, offset)
	return b, errno
}

func (w *world) Pwrite(h linux.Handle, data []byte, offset int64) (int, linux.Errno) {
	if f := w.file(h); f != nil {
		return w.files.Pwrite(f, data, offset, w.now())
	}
	if w.disks.handles[h] == nil {
		return 0, w.refuse(h, linux.ESPIPE)
	}
	_, n, errno := w.diskIO(h, true, data, len(data), offset)
	return n, errno
}

func (w *world) Seek(h linux.Handle, offset int64, whence int) (int64, linux.Errno) {
	if f := w.file(h); f != nil {
		return w.files.Seek(f, offset, whence)
	}
	d := w.disks.handles[h]
	if d == nil {
		return 0, w.refuse(h, linux.ESPIPE)
	}
	pos, errno := linux.SeekTarget(d.pos, w.disks.paths[d.path].Size, offset, whence)
	if errno == 0 {
		d.pos = pos
	}
	return pos, errno
}

func (w *world) Truncate(h linux.Handle, size int64) linux.Errno {
	if f := w.file(h); f != nil {
		return w.files.Truncate(f, size, w.now())
	}
	return linux.EINVAL
}

func (w *world) WriteBack(h linux.Handle, data []byte, offset int64) (int, linux.Errno) {
	if f := w.file(h); f != nil {
		return w.files.WriteBack(f, data, offset, w.now())
	}
	return 0, linux.ESPIPE
}

func (w *world) Stat(h linux.Handle) (linux.Stat, linux.Errno) {
	o := w.objects[h]
	if o == nil {
		return linux.Stat{}, linux.EBADF
	}
	switch o.kind {
	case kindConsole:
		// A pipe: the guest's stdio buffers fully, as under a supervisor.
		return linux.Stat{Mode: linux.S_IFIFO | 0o600, Nlink: 1, Blksize: 4096}, 0
	case kindDisk:
		return w.statDisk(w.disks.handles[h].path), 0
	case kindFile:
		return w.files.Stat(o.file.Ino), 0
	}
	return linux.Stat{Mode: linux.S_IFSOCK | 0o777, Nlink: 1, Blksize: 4096}, 0
}

func (w *world) StatPath(path string, follow bool) (linux.Stat, linux.Errno) {
	if name, ok := strings.CutPrefix(path, diskDir); ok {
		if _, ok := w.disks.paths[name]; ok {
			return w.statDisk(name), 0
		}
		return linux.Stat{}, linux.ENOENT
	}
	ino, e := w.files.Lookup(path, follow)
	if e != 0 {
		return linux.Stat{}, e
	}
	return w.files.Stat(ino), 0
}

func (w *world) Readlink(path string) (string, linux.Errno) { return w.files.Readlink(path) }

func (w *world) ReadDir(h linux.Handle) ([]linux.DirEntry, linux.Errno) {
	if f := w.file(h); f != nil {
		return w.files.ReadDir(f)
	}
	return nil, linux.ENOTDIR
}

func (w *world) Unlink(path string, dir bool) linux.Errno { return w.files.Unlink(path, dir, w.now()) }

func (w *world) Mkdir(path string, mode uint32) linux.Errno {
	return w.files.Mkdir(path, mode, w.now())
}

func (w *world) Rename(from, to string) linux.Errno { return w.files.Rename(from, to, w.now()) }

func (w *world) Getcwd() (string, linux.Errno) { return w.files.Getcwd() }

// The calls on a file named by path or handle act on the tree; the
// console, sockets and device files keep their fixed metadata (EPERM) and
// are no directories and cannot be linked.

func (w *world) Chdir(dir linux.FileRef) linux.Errno {
	ino, e := w.fileIno(dir, linux.ENOTDIR)
	if e != 0 {
		return e
	}
	return w.files.Chdir(ino)
}

func (w *world) Link(from linux.FileRef, to string) linux.Errno {
	ino, e := w.fileIno(from, linux.EXDEV)
	if e != 0 {
		return e
	}
	return w.files.Link(ino, to, w.now())
}

func (w *world) Symlink(target, path string) linux.Errno {
	return w.files.Symlink(target, path, w.now())
}

func (w *world) Chmod(f linux.FileRef, mode uint32) linux.Errno {
	ino, e := w.fileIno(f, linux.EPERM)
	if e == 0 {
		w.files.Chmod(ino, mode, w.now())
	}
	return e
}

func (w *world) Chown(f linux.FileRef, uid, gid uint32) linux.Errno {
	ino, e := w.fileIno(f, linux.EPERM)
	if e == 0 {
		w.files.Chown(ino, uid, gid, w.now())
	}
	return e
}

func (w *world) SetTimes(f linux.FileRef, atime, mtime linux.Timespec) linux.Errno {
	ino, e := w.fileIno(f, linux.EPERM)
	if e != 0 {
		return e
	}
	return w.files.SetTimes(ino, atime, mtime, w.now())
}

// refuse answers a call that handle h does not take: EBADF when h is not
// open, else errno.
func (w *world) refuse(h linux.Handle, errno linux.Errno) linux.Errno {
	if w.objects[h] == nil {
		return linux.EBADF
	}
	return errno
}

// Statfs describes the tree for its files; the console is a pipe and
// every other handle a socket.
func (w *world) Statfs(f linux.FileRef) (linux.Statfs, linux.Errno) {
	if _, e := w.fileIno(f, 0); e != 0 {
		return linux.Statfs{}, e
	}
	switch {
	case f.Path != "" || w.objects[f.Handle].kind == kindFile:
		return w.files.Statfs(), 0
	case w.objects[f.Handle].kind == kindConsole:
		return linux.PipeFS, 0
	}
	return linux.SockFS, 0
}

func (w *world) Socket(domain, typ, _ int) (linux.Handle, linux.Errno) {
	if domain != linux.AF_INET && domain != linux.AF_INET6 {
		return 0, linux.EAFNOSUPPORT
	}
	if typ != linux.SOCK_STREAM {
		return 0, linux.ESOCKTNOSUPPORT
	}
	return w.newHandle(&object{kind: kindSocket}), 0
}

func (w *world) newHandle(o *object) linux.Handle {
	h := w.nextHandle
	w.nextHandle++
	w.objects[h] = o
	return h
}

func (w *world) Bind(h linux.Handle, addr netip.AddrPort) linux.Errno {
	o := w.objects[h]
	switch {
	case o == nil:
		return linux.EBADF
	case o.kind != kindSocket || o.port != 0:
		return linux.EINVAL
	}
	port := addr.Port()
	if port == 0 {
		port = w.ephemeralPort()
		if port == 0 {
			return linux.EADDRINUSE
		}
	} else if w.portInUse(port) {
		return linux.EADDRINUSE
	}
	o.port = port
	return 0
}

func (w *world) portInUse(port uint16) bool {
	for _, o := range w.objects {
		if (o.kind == kindSocket || o.kind == kindListener) && o.port == port {
			return true
		}
	}
	return false
}

// ephemeralPort picks the next free port from the ephemeral range, or 0.
func (w *world) ephemeralPort() uint16 {
	for range 0x10000 - firstEphemeral {
		p := w.nextEphemeral
		w.nextEphemeral++
		if w.nextEphemeral == 0 {
			w.nextEphemeral = firstEphemeral
		}
		if !w.portInUse(p) {
			return p
		}
	}
	return 0
}

func (w *world) Listen(h linux.Handle, backlog int) linux.Errno {
	o := w.objects[h]
	switch {
	case o == nil:
		return linux.EBADF
	case o.kind == kindListener:
		return 0
	case o.kind != kindSocket:
		return linux.EINVAL
	}
	if o.port == 0 {
		if o.port = w.ephemeralPort(); o.port == 0 {
			return linux.EADDRINUSE
		}
	}
	o.kind = kindListener
	o.limit = min(max(backlog, 1), maxBacklog)
	w.listeners[o.port] = h
	for _, n := range w.live() {
		w.emit(n, outputs.Listen{Port: o.port})
	}
	return 0
}

func (w *world) Accept(h linux.Handle) (linux.Handle, netip.AddrPort, linux.Errno) {
	o := w.objects[h]
	switch {
	case o == nil:
		return 0, netip.AddrPort{}, linux.EBADF
	case o.kind != kindListener:
		return 0, netip.AddrPort{}, linux.EINVAL
	case len(o.backlog) == 0:
		return 0, netip.AddrPort{}, linux.EAGAIN
	}
	id := o.backlog[0]
	o.backlog = o.backlog[1:]
	c := w.conns[id]
	return w.newHandle(&object{kind: kindConn, conn: id, vc: c}), c.peer, 0
}

func (w *world) Connect(linux.Handle, netip.AddrPort) linux.Errno { return linux.ENETUNREACH }

func (w *world) Shutdown(h linux.Handle, how int) linux.Errno {
	c, o, errno := w.conn(h)
	if errno != 0 {
		return errno
	}
	const shutRD = 0
	if how != shutRD {
		w.hangUp(o.conn, c)
	}
	return 0
}

func (w *world) SetSockOpt(h linux.Handle, _, _ int, _ []byte) linux.Errno {
	if w.objects[h] == nil {
		return linux.EBADF
	}
	return 0
}

func (w *world) GetSockOpt(h linux.Handle, level, name int, size int) ([]byte, linux.Errno) {
	o := w.objects[h]
	if o == nil {
		return nil, linux.EBADF
	}
	v := make([]byte, max(size, 0))
	if level == linux.SOL_SOCKET && name == linux.SO_TYPE && size >= 4 {
		binary.BigEndian.PutUint32(v, linux.SOCK_STREAM)
	}
	return v, 0
}

func (w *world) SockName(h linux.Handle) (netip.AddrPort, linux.Errno) {
	o := w.objects[h]
	switch {
	case o == nil:
		return netip.AddrPort{}, linux.EBADF
	case o.kind == kindConn:
		return netip.AddrPortFrom(netip.IPv4Unspecified(), o.vc.port), 0
	}
	return netip.AddrPortFrom(netip.IPv4Unspecified(), o.port), 0
}

func (w *world) PeerName(h linux.Handle) (netip.AddrPort, linux.Errno) {
	c, _, errno := w.conn(h)
	if errno != 0 {
		return netip.AddrPort{}, errno
	}
	return c.peer, 0
}

func (w *world) Poll(reqs []linux.PollRequest, ready []linux.PollEvents) {
	for i, r := range reqs {
		ready[i] = w.poll(r.Handle) & (r.Events | linux.PollErr | linux.PollHup | linux.PollNval)
	}
}

func (w *world) poll(h linux.Handle) linux.PollEvents {
	o := w.objects[h]
	if o == nil {
		return linux.PollNval
	}
	switch o.kind {
	case kindConsole:
		if h == linux.Stdin && !w.stdin.readable() {
			return 0
		}
		return linux.PollIn | linux.PollOut
	case kindListener:
		if len(o.backlog) > 0 {
			return linux.PollIn
		}
		return 0
	case kindDisk:
		return w.pollDisk(h)
	case kindFile:
		return linux.PollIn | linux.PollOut
	case kindConn:
		c := o.vc
		var ev linux.PollEvents
		if len(c.in) > 0 || c.peerClosed {
			ev |= linux.PollIn
		}
		if c.peerClosed {
			ev |= linux.PollHup
		} else if !c.guestShut {
			ev |= linux.PollOut
		}
		return ev
	}
	return linux.PollOut
}

// IsTerminal is false: the console is a log shared by the cluster, so the
// guest's stdio buffers it like a pipe.
func (w *world) IsTerminal(linux.Handle) bool { return false }

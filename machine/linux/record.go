package linux

import (
	"fmt"
	"hash/crc32"
	"net/netip"
	"slices"
)

// Call is one Env call and its answer, as a Recorder logs it. A sequence of
// Calls replayed by a Replayer drives a process through exactly the same
// execution without touching the host.
type Call struct {
	Method string
	// Args summarises the arguments (byte slices by length and CRC), so
	// that a replay notices when the guest asks something else.
	Args  string
	Reply Reply
}

// Reply holds the results of any Env method; each method uses the fields
// matching its result types.
type Reply struct {
	Handle  Handle         `json:",omitempty"`
	Errno   Errno          `json:",omitempty"`
	N       int64          `json:",omitempty"`
	Data    []byte         `json:",omitempty"`
	Text    string         `json:",omitempty"`
	Bool    bool           `json:",omitempty"`
	Stat    *Stat          `json:",omitempty"`
	Statfs  *Statfs        `json:",omitempty"`
	Addr    netip.AddrPort `json:",omitzero"`
	Clock   Clock          `json:",omitzero"`
	Entries []DirEntry     `json:",omitempty"`
	Events  []PollEvents   `json:",omitempty"`
}

func describe(args ...any) string {
	for i, a := range args {
		if b, ok := a.([]byte); ok {
			args[i] = fmt.Sprintf("[%d bytes crc %08x]", len(b), crc32.ChecksumIEEE(b))
		}
	}
	return fmt.Sprint(args...)
}

// Recorder is an Env that forwards every call to another Env and logs the
// call with its answer in Calls.
type Recorder struct {
	Env   Env
	Calls []Call
}

// NewRecorder records the answers env gives.
func NewRecorder(env Env) *Recorder { return &Recorder{Env: env} }

func (r *Recorder) log(method string, args []any, reply Reply) {
	r.Calls = append(r.Calls, Call{Method: method, Args: describe(args...), Reply: reply})
}

func (r *Recorder) Clock(instructions uint64) Clock {
	c := r.Env.Clock(instructions)
	r.log("Clock", []any{instructions}, Reply{Clock: c})
	return c
}

func (r *Recorder) Random(n int) []byte {
	b := r.Env.Random(n)
	r.log("Random", []any{n}, Reply{Data: b})
	return b
}

func (r *Recorder) Open(path string, flags, mode uint32) (Handle, Errno) {
	h, e := r.Env.Open(path, flags, mode)
	r.log("Open", []any{path, flags, mode}, Reply{Handle: h, Errno: e})
	return h, e
}

func (r *Recorder) Close(h Handle) Errno {
	e := r.Env.Close(h)
	r.log("Close", []any{h}, Reply{Errno: e})
	return e
}

func (r *Recorder) Read(h Handle, n int) ([]byte, Errno) {
	b, e := r.Env.Read(h, n)
	r.log("Read", []any{h, n}, Reply{Data: b, Errno: e})
	return b, e
}

func (r *Recorder) Write(h Handle, data []byte) (int, Errno) {
	n, e := r.Env.Write(h, data)
	r.log("Write", []any{h, data}, Reply{N: int64(n), Errno: e})
	return n, e
}

func (r *Recorder) Pread(h Handle, n int, offset int64) ([]byte, Errno) {
	b, e := r.Env.Pread(h, n, offset)
	r.log("Pread", []any{h, n, offset}, Reply{Data: b, Errno: e})
	return b, e
}

func (r *Recorder) Pwrite(h Handle, data []byte, offset int64) (int, Errno) {
	n, e := r.Env.Pwrite(h, data, offset)
	r.log("Pwrite", []any{h, data, offset}, Reply{N: int64(n), Errno: e})
	return n, e
}

func (r *Recorder) WriteBack(h Handle, data []byte, offset int64) (int, Errno) {
	n, e := r.Env.WriteBack(h, data, offset)
	r.log("WriteBack", []any{h, data, offset}, Reply{N: int64(n), Errno: e})
	return n, e
}

func (r *Recorder) Seek(h Handle, offset int64, whence int) (int64, Errno) {
	n, e := r.Env.Seek(h, offset, whence)
	r.log("Seek", []any{h, offset, whence}, Reply{N: n, Errno: e})
	return n, e
}

func (r *Recorder) Truncate(h Handle, size int64) Errno {
	e := r.Env.Truncate(h, size)
	r.log("Truncate", []any{h, size}, Reply{Errno: e})
	return e
}

func (r *Recorder) Stat(h Handle) (Stat, Errno) {
	st, e := r.Env.Stat(h)
	r.log("Stat", []any{h}, Reply{Stat: &st, Errno: e})
	return st, e
}

func (r *Recorder) StatPath(path string, follow bool) (Stat, Errno) {
	st, e := r.Env.StatPath(path, follow)
	r.log("StatPath", []any{path, follow}, Reply{Stat: &st, Errno: e})
	return st, e
}

func (r *Recorder) Readlink(path string) (string, Errno) {
	s, e := r.Env.Readlink(path)
	r.log("Readlink", []any{path}, Reply{Text: s, Errno: e})
	return s, e
}

func (r *Recorder) ReadDir(h Handle) ([]DirEntry, Errno) {
	d, e := r.Env.ReadDir(h)
	r.log("ReadDir", []any{h}, Reply{Entries: d, Errno: e})
	return d, e
}

func (r *Recorder) Unlink(path string, dir bool) Errno {
	e := r.Env.Unlink(path, dir)
	r.log("Unlink", []any{path, dir}, Reply{Errno: e})
	return e
}

func (r *Recorder) Mkdir(path string, mode uint32) Errno {
	e := r.Env.Mkdir(path, mode)
	r.log("Mkdir", []any{path, mode}, Reply{Errno: e})
	return e
}

func (r *Recorder) Rename(from, to string) Errno {
	e := r.Env.Rename(from, to)
	r.log("Rename", []any{from, to}, Reply{Errno: e})
	return e
}

func (r *Recorder) Getcwd() (string, Errno) {
	s, e := r.Env.Getcwd()
	r.log("Getcwd", nil, Reply{Text: s, Errno: e})
	return s, e
}

func (r *Recorder) Chdir(dir FileRef) Errno {
	e := r.Env.Chdir(dir)
	r.log("Chdir", []any{dir}, Reply{Errno: e})
	return e
}

func (r *Recorder) Link(from FileRef, to string) Errno {
	e := r.Env.Link(from, to)
	r.log("Link", []any{from, to}, Reply{Errno: e})
	return e
}

func (r *Recorder) Symlink(target, path string) Errno {
	e := r.Env.Symlink(target, path)
	r.log("Symlink", []any{target, path}, Reply{Errno: e})
	return e
}

func (r *Recorder) Chmod(f FileRef, mode uint32) Errno {
	e := r.Env.Chmod(f, mode)
	r.log("Chmod", []any{f, mode}, Reply{Errno: e})
	return e
}

func (r *Recorder) Chown(f FileRef, uid, gid uint32) Errno {
	e := r.Env.Chown(f, uid, gid)
	r.log("Chown", []any{f, uid, gid}, Reply{Errno: e})
	return e
}

func (r *Recorder) SetTimes(f FileRef, atime, mtime Timespec) Errno {
	e := r.Env.SetTimes(f, atime, mtime)
	r.log("SetTimes", []any{f, atime, mtime}, Reply{Errno: e})
	return e
}

func (r *Recorder) Statfs(f FileRef) (Statfs, Errno) {
	st, e := r.Env.Statfs(f)
	r.log("Statfs", []any{f}, Reply{Statfs: &st, Errno: e})
	return st, e
}

func (r *Recorder) IsTerminal(h Handle) bool {
	v := r.Env.IsTerminal(h)
	r.log("IsTerminal", []any{h}, Reply{Bool: v})
	return v
}

func (r *Recorder) Socket(domain, typ, protocol int) (Handle, Errno) {
	h, e := r.Env.Socket(domain, typ, protocol)
	r.log("Socket", []any{domain, typ, protocol}, Reply{Handle: h, Errno: e})
	return h, e
}

func (r *Recorder) Bind(h Handle, addr netip.AddrPort) Errno {
	e := r.Env.Bind(h, addr)
	r.log("Bind", []any{h, addr}, Reply{Errno: e})
	return e
}

func (r *Recorder) Listen(h Handle, backlog int) Errno {
	e := r.Env.Listen(h, backlog)
	r.log("Listen", []any{h, backlog}, Reply{Errno: e})
	return e
}

func (r *Recorder) Accept(h Handle) (Handle, netip.AddrPort, Errno) {
	c, a, e := r.Env.Accept(h)
	r.log("Accept", []any{h}, Reply{Handle: c, Addr: a, Errno: e})
	return c, a, e
}

func (r *Recorder) Connect(h Handle, addr netip.AddrPort) Errno {
	e := r.Env.Connect(h, addr)
	r.log("Connect", []any{h, addr}, Reply{Errno: e})
	return e
}

func (r *Recorder) Shutdown(h Handle, how int) Errno {
	e := r.Env.Shutdown(h, how)
	r.log("Shutdown", []any{h, how}, Reply{Errno: e})
	return e
}

func (r *Recorder) SetSockOpt(h Handle, level, name int, value []byte) Errno {
	e := r.Env.SetSockOpt(h, level, name, value)
	r.log("SetSockOpt", []any{h, level, name, value}, Reply{Errno: e})
	return e
}

func (r *Recorder) GetSockOpt(h Handle, level, name, size int) ([]byte, Errno) {
	b, e := r.Env.GetSockOpt(h, level, name, size)
	r.log("GetSockOpt", []any{h, level, name, size}, Reply{Data: b, Errno: e})
	return b, e
}

func (r *Recorder) SockName(h Handle) (netip.AddrPort, Errno) {
	a, e := r.Env.SockName(h)
	r.log("SockName", []any{h}, Reply{Addr: a, Errno: e})
	return a, e
}

func (r *Recorder) PeerName(h Handle) (netip.AddrPort, Errno) {
	a, e := r.Env.PeerName(h)
	r.log("PeerName", []any{h}, Reply{Addr: a, Errno: e})
	return a, e
}

func (r *Recorder) Poll(requests []PollRequest, ready []PollEvents) {
	r.Env.Poll(requests, ready)
	r.log("Poll", []any{requests}, Reply{Events: slices.Clone(ready)})
}

// Replayer is an Env that answers from a recording, touching nothing. If
// the guest asks for something the recording does not hold next (it
// diverged, or the recording ended), Err says so and every further answer
// is EIO (or zero).
type Replayer struct {
	calls []Call
	next  int
	err   error
}

// NewReplayer replays calls in order.
func NewReplayer(calls []Call) *Replayer { return &Replayer{calls: calls} }

// Err reports the first divergence from the recording, or nil.
func (r *Replayer) Err() error { return r.err }

// Remaining is how many recorded calls have not been asked for yet.
func (r *Replayer) Remaining() int { return len(r.calls) - r.next }

func (r *Replayer) take(method string, args ...any) Reply {
	if r.err != nil {
		return Reply{Errno: EIO}
	}
	want := describe(args...)
	if r.next >= len(r.calls) {
		r.err = fmt.Errorf("replay: call %d %s(%s) is past the end of the recording", r.next, method, want)
		return Reply{Errno: EIO}
	}
	c := r.calls[r.next]
	if c.Method != method || c.Args != want {
		r.err = fmt.Errorf("replay: call %d is %s(%s), the recording has %s(%s)", r.next, method, want, c.Method, c.Args)
		return Reply{Errno: EIO}
	}
	r.next++
	return c.Reply
}

func (r Reply) stat() Stat {
	if r.Stat == nil {
		return Stat{}
	}
	return *r.Stat
}

func (r *Replayer) Clock(instructions uint64) Clock { return r.take("Clock", instructions).Clock }

func (r *Replayer) Random(n int) []byte { return r.take("Random", n).Data }

func (r *Replayer) Open(path string, flags, mode uint32) (Handle, Errno) {
	a := r.take("Open", path, flags, mode)
	return a.Handle, a.Errno
}

func (r *Replayer) Close(h Handle) Errno { return r.take("Close", h).Errno }

func (r *Replayer) Read(h Handle, n int) ([]byte, Errno) {
	a := r.take("Read", h, n)
	return a.Data, a.Errno
}

func (r *Replayer) Write(h Handle, data []byte) (int, Errno) {
	a := r.take("Write", h, data)
	return int(a.N), a.Errno
}

func (r *Replayer) Pread(h Handle, n int, offset int64) ([]byte, Errno) {
	a := r.take("Pread", h, n, offset)
	return a.Data, a.Errno
}

func (r *Replayer) Pwrite(h Handle, data []byte, offset int64) (int, Errno) {
	a := r.take("Pwrite", h, data, offset)
	return int(a.N), a.Errno
}

func (r *Replayer) WriteBack(h Handle, data []byte, offset int64) (int, Errno) {
	a := r.take("WriteBack", h, data, offset)
	return int(a.N), a.Errno
}

func (r *Replayer) Seek(h Handle, offset int64, whence int) (int64, Errno) {
	a := r.take("Seek", h, offset, whence)
	return a.N, a.Errno
}

func (r *Replayer) Truncate(h Handle, size int64) Errno { return r.take("Truncate", h, size).Errno }

func (r *Replayer) Stat(h Handle) (Stat, Errno) {
	a := r.take("Stat", h)
	return a.stat(), a.Errno
}

func (r *Replayer) StatPath(path string, follow bool) (Stat, Errno) {
	a := r.take("StatPath", path, follow)
	return a.stat(), a.Errno
}

func (r *Replayer) Readlink(path string) (string, Errno) {
	a := r.take("Readlink", path)
	return a.Text, a.Errno
}

func (r *Replayer) ReadDir(h Handle) ([]DirEntry, Errno) {
	a := r.take("ReadDir", h)
	return a.Entries, a.Errno
}

func (r *Replayer) Unlink(path string, dir bool) Errno { return r.take("Unlink", path, dir).Errno }

func (r *Replayer) Mkdir(path string, mode uint32) Errno { return r.take("Mkdir", path, mode).Errno }

func (r *Replayer) Rename(from, to string) Errno { return r.take("Rename", from, to).Errno }

func (r *Replayer) Getcwd() (string, Errno) {
	a := r.take("Getcwd")
	return a.Text, a.Errno
}

func (r *Replayer) Chdir(dir FileRef) Errno { return r.take("Chdir", dir).Errno }

func (r *Replayer) Link(from FileRef, to string) Errno { return r.take("Link", from, to).Errno }

func (r *Replayer) Symlink(target, path string) Errno { return r.take("Symlink", target, path).Errno }

func (r *Replayer) Chmod(f FileRef, mode uint32) Errno { return r.take("Chmod", f, mode).Errno }

func (r *Replayer) Chown(f FileRef, uid, gid uint32) Errno {
	return r.take("Chown", f, uid, gid).Errno
}

func (r *Replayer) SetTimes(f FileRef, atime, mtime Timespec) Errno {
	return r.take("SetTimes", f, atime, mtime).Errno
}

func (r *Replayer) Statfs(f FileRef) (Statfs, Errno) {
	a := r.take("Statfs", f)
	if a.Statfs == nil {
		return Statfs{}, a.Errno
	}
	return *a.Statfs, a.Errno
}

func (r *Replayer) IsTerminal(h Handle) bool { return r.take("IsTerminal", h).Bool }

func (r *Replayer) Socket(domain, typ, protocol int) (Handle, Errno) {
	a := r.take("Socket", domain, typ, protocol)
	return a.Handle, a.Errno
}

func (r *Replayer) Bind(h Handle, addr netip.AddrPort) Errno { return r.take("Bind", h, addr).Errno }

func (r *Replayer) Listen(h Handle, backlog int) Errno { return r.take("Listen", h, backlog).Errno }

func (r *Replayer) Accept(h Handle) (Handle, netip.AddrPort, Errno) {
	a := r.take("Accept", h)
	return a.Handle, a.Addr, a.Errno
}

func (r *Replayer) Connect(h Handle, addr netip.AddrPort) Errno {
	return r.take("Connect", h, addr).Errno
}

func (r *Replayer) Shutdown(h Handle, how int) Errno { return r.take("Shutdown", h, how).Errno }

func (r *Replayer) SetSockOpt(h Handle, level, name int, value []byte) Errno {
	return r.take("SetSockOpt", h, level, name, value).Errno
}

func (r *Replayer) GetSockOpt(h Handle, level, name, size int) ([]byte, Errno) {
	a := r.take("GetSockOpt", h, level, name, size)
	return a.Data, a.Errno
}

func (r *Replayer) SockName(h Handle) (netip.AddrPort, Errno) {
	a := r.take("SockName", h)
	return a.Addr, a.Errno
}

func (r *Replayer) PeerName(h Handle) (netip.AddrPort, Errno) {
	a := r.take("PeerName", h)
	return a.Addr, a.Errno
}

func (r *Replayer) Poll(requests []PollRequest, ready []PollEvents) {
	clear(ready)
	copy(ready, r.take("Poll", requests).Events)
}

package linux

// maxFDs is the descriptor limit (RLIMIT_NOFILE) the guest sees.
const maxFDs = 1024

// pipeCapacity is how many bytes a pipe holds before writers wait.
const pipeCapacity = 64 << 10

// fileKind says what an open file description is backed by.
type fileKind uint8

const (
	fileEnv       fileKind = iota // an Env handle: host file, socket or console
	filePipeRead                  // the read end of a kernel pipe
	filePipeWrite                 // the write end of a kernel pipe
	fileEpoll                     // an epoll instance
	fileEventfd                   // an eventfd counter
	fileBuffer                    // read-only contents the kernel made (/proc/self/maps)
)

// openFile is an open file description, shared by descriptors that dup it.
type openFile struct {
	id     uint32 // stable name for snapshots and hashing
	kind   fileKind
	handle Handle // fileEnv
	pipe   *pipe  // filePipeRead, filePipeWrite
	flags  uint32 // O_* status flags: access mode, O_APPEND, O_NONBLOCK
	socket bool
	refs   int // the descriptors and shared mappings that refer to it

	// dir holds a directory listing being read with getdents64, from the
	// first call on; dirPos is the next entry.
	dir     []DirEntry
	dirRead bool
	dirPos  int

	interests []epollInterest // fileEpoll: in the order they were added
	counter   uint64          // fileEventfd
	semaphore bool            // fileEventfd: EFD_SEMAPHORE
	contents  []byte          // fileBuffer
	offset    int64           // fileBuffer: the read position
}

// pipe is a kernel pipe: a byte queue between two descriptions.
type pipe struct {
	id      uint32
	buf     []byte
	readers int
	writers int
}

type fdEntry struct {
	file    *openFile
	cloexec bool
}

// fileTable maps guest descriptors to open file descriptions.
type fileTable struct {
	fds []fdEntry // index is the descriptor; file nil when free
	// nextID is the kernel's: descriptions are shared across fork, so
	// their ids are unique across processes.
	nextID *uint32
}

func newFileTable(k *kernel) fileTable {
	ft := fileTable{nextID: &k.nextFileID}
	for _, h := range []Handle{Stdin, Stdout, Stderr} {
		flags := uint32(O_RDWR)
		ft.install(ft.newFile(fileEnv, h, nil, flags), 0, false)
	}
	return ft
}

func (ft *fileTable) newFile(kind fileKind, h Handle, pp *pipe, flags uint32) *openFile {
	*ft.nextID++
	return &openFile{id: *ft.nextID, kind: kind, handle: h, pipe: pp, flags: flags}
}

// install gives f the lowest free descriptor at or above min.
func (ft *fileTable) install(f *openFile, min int, cloexec bool) (int32, Errno) {
	for fd := min; fd < maxFDs; fd++ {
		for fd >= len(ft.fds) {
			ft.fds = append(ft.fds, fdEntry{})
		}
		if ft.fds[fd].file == nil {
			ft.fds[fd] = fdEntry{file: f, cloexec: cloexec}
			f.refs++
			return int32(fd), 0
		}
	}
	return -1, EMFILE
}

// get returns the description behind fd.
func (ft *fileTable) get(fd int32) (*openFile, Errno) {
	if fd < 0 || int(fd) >= len(ft.fds) || ft.fds[fd].file == nil {
		return nil, EBADF
	}
	return ft.fds[fd].file, 0
}

// remove frees fd and returns its description if that was the last
// reference to it (the caller then releases what it holds).
func (ft *fileTable) remove(fd int32) (last *openFile, e Errno) {
	f, e := ft.get(fd)
	if e != 0 {
		return nil, e
	}
	ft.fds[fd] = fdEntry{}
	for len(ft.fds) > 0 && ft.fds[len(ft.fds)-1].file == nil {
		ft.fds = ft.fds[:len(ft.fds)-1]
	}
	if f.refs--; f.refs > 0 {
		return nil, 0
	}
	return f, 0
}

// envHandle returns the Env handle behind fd, if fd is Env-backed.
func (ft *fileTable) envHandle(fd int32) (Handle, bool) {
	f, e := ft.get(fd)
	if e != 0 || f.kind != fileEnv {
		return 0, false
	}
	return f.handle, true
}

// internalReadiness is the poll state of a descriptor the kernel itself
// implements (pipes), or POLLNVAL for a closed one.
func (ft *fileTable) internalReadiness(fd int32) PollEvents {
	f, e := ft.get(fd)
	if e != 0 {
		return PollNval
	}
	switch f.kind {
	case filePipeRead:
		var ev PollEvents
		if len(f.pipe.buf) > 0 {
			ev |= PollIn
		}
		if f.pipe.writers == 0 {
			ev |= PollHup
		}
		return ev
	case filePipeWrite:
		if f.pipe.readers == 0 {
			return PollErr
		}
		if len(f.pipe.buf) < pipeCapacity {
			return PollOut
		}
	case fileEventfd:
		return f.eventfdReadiness()
	case fileBuffer:
		return PollIn | PollOut
	}
	return 0
}

// release drops what a description holds once no descriptor refers to it.
func (p *Process) releaseFile(f *openFile) Errno {
	switch f.kind {
	case fileEnv:
		return p.env.Close(f.handle)
	case filePipeRead:
		f.pipe.readers--
	case filePipeWrite:
		f.pipe.writers--
	}
	return 0
}

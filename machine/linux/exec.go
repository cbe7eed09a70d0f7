package linux

import (
	"bytes"
	"path"
	"slices"
	"strings"
)

// execve: the process replaces its program. The file is read through the
// Env, so the guest's file view decides what runs; a "#!" script runs its
// interpreter, looked up the same way. Everything is read and mapped into
// a new address space before the old one is given up, so a failing execve
// returns to the caller unharmed.

const (
	// maxExecBytes bounds the executable read into memory.
	maxExecBytes = 64 << 20
	// maxArgStrings and maxArgBytes bound argv and envp together, as
	// Linux's ARG_MAX does; beyond them execve fails with E2BIG.
	maxArgStrings = 1 << 16
	maxArgBytes   = 2 << 20
	// maxInterpreters is how many "#!" interpreters may lead to the
	// program that finally runs (Linux allows 4 as well).
	maxInterpreters = 4
	// shebangBytes is how much of a script's first line is read for its
	// interpreter (BINPRM_BUF_SIZE).
	shebangBytes = 256
	readChunk    = 64 << 10
)

// execve(path, argv, envp)
func sysExecve(p *Process, t *thread, a sysArgs) sysResult {
	file, e := p.readPath(a[0])
	if e != 0 {
		return fail(e)
	}
	budget := maxArgBytes
	argv, e := p.readStrings(a[1], &budget)
	if e != 0 {
		return fail(e)
	}
	envp, e := p.readStrings(a[2], &budget)
	if e != 0 {
		return fail(e)
	}
	return p.execve(t, file, argv, envp)
}

// readStrings reads a NULL-terminated array of string pointers (NULL
// itself is an empty array), charging each string to budget.
func (p *Process) readStrings(addr uint32, budget *int) ([]string, Errno) {
	var out []string
	for addr != 0 {
		if len(out) == maxArgStrings {
			return nil, E2BIG
		}
		ptr, e := p.readU32(addr + uint32(4*len(out)))
		if e != 0 {
			return nil, e
		}
		if ptr == 0 {
			break
		}
		s, e := p.readString(ptr, min(*budget, maxArgBytes))
		if e == ENAMETOOLONG {
			return nil, E2BIG
		}
		if e != 0 {
			return nil, e
		}
		*budget -= len(s) + 1
		out = append(out, s)
	}
	return out, 0
}

// execve runs file in p, from thread t, with argv and envp.
func (p *Process) execve(t *thread, file string, argv, envp []string) sysResult {
	binary, exe, argv, e := p.findProgram(file, argv)
	if e != 0 {
		return fail(e)
	}
	cfg := p.cfg
	cfg.Argv, cfg.Envp, cfg.ExePath = argv, envp, exe
	prog, err := newProgram(binary, &cfg, p.env)
	if err != nil {
		p.log.Warn("execve: cannot run the program", "path", exe, "err", err)
		return fail(ENOEXEC)
	}
	p.replaceProgram(t, prog, cfg)
	return done()
}

// findProgram reads file, and for a "#!" script its interpreter (and
// theirs), and returns the executable that runs, its absolute path and the
// arguments it gets: for a script, the interpreter, its optional argument
// and the script's path before the script's own arguments.
func (p *Process) findProgram(file string, argv []string) (binary []byte, exe string, args []string, e Errno) {
	for range maxInterpreters + 1 {
		data, e := p.readExecutable(file)
		if e != 0 {
			return nil, "", nil, e
		}
		interp, arg, script := parseShebang(data)
		if !script {
			exe, e := p.absolute(file)
			return data, exe, argv, e
		}
		if interp == "" {
			return nil, "", nil, ENOEXEC
		}
		next := []string{interp}
		if arg != "" {
			next = append(next, arg)
		}
		next = append(next, file)
		if len(argv) > 1 {
			next = append(next, argv[1:]...)
		}
		file, argv = interp, next
	}
	return nil, "", nil, ELOOP
}

// readExecutable reads a regular file the guest may execute.
func (p *Process) readExecutable(file string) ([]byte, Errno) {
	st, e := p.env.StatPath(file, true)
	switch {
	case e != 0:
		return nil, e
	case st.Mode&S_IFMT != S_IFREG || st.Mode&0o111 == 0:
		return nil, EACCES
	case st.Size > maxExecBytes:
		return nil, ENOMEM
	}
	h, e := p.env.Open(file, O_RDONLY, 0)
	if e != 0 {
		return nil, e
	}
	defer p.env.Close(h)
	var data []byte
	for range maxExecBytes/readChunk + 1 {
		b, e := p.env.Read(h, readChunk)
		if e != 0 {
			return nil, e
		}
		if len(b) == 0 {
			return data, 0
		}
		data = append(data, b...)
	}
	return nil, ENOMEM
}

// parseShebang splits a script's "#!interpreter [argument]" line; script
// is false when data does not start with "#!".
func parseShebang(data []byte) (interp, arg string, script bool) {
	if !bytes.HasPrefix(data, []byte("#!")) {
		return "", "", false
	}
	line := data[2:min(len(data), shebangBytes)]
	if i := bytes.IndexByte(line, '\n'); i >= 0 {
		line = line[:i]
	}
	rest := strings.Trim(string(line), " \t")
	end := strings.IndexAny(rest, " \t")
	if end < 0 {
		return rest, "", true
	}
	return rest[:end], strings.Trim(rest[end:], " \t"), true
}

// absolute makes file absolute against the working directory.
func (p *Process) absolute(file string) (string, Errno) {
	if strings.HasPrefix(file, "/") {
		return path.Clean(file), 0
	}
	cwd, e := p.env.Getcwd()
	if e != 0 {
		return "", e
	}
	return path.Join(cwd, file), 0
}

// replaceProgram makes prog the program of p, run by t, which becomes the
// main thread (its id the pid): the other threads end, the old memory, shared mappings and futex waits go, descriptors
// marked close-on-exec close, caught signals return to their default
// action (ignored ones stay ignored, pending ones stay pending), and a
// parent waiting in vfork goes on.
func (p *Process) replaceProgram(t *thread, prog program, cfg Config) {
	for _, u := range slices.Clone(p.threads) {
		if u != t {
			p.removeFutexWaiter(u)
			u.exited = true
			p.k.removeThread(u)
		}
	}
	if !p.borrowedMem {
		p.writeBackAll()
	}
	for _, m := range p.shared {
		if m.file != nil {
			p.unref(m.file)
		}
	}
	p.shared, p.futexes = nil, nil
	p.mem, p.borrowedMem = prog.mem, false
	p.brkStart, p.brk = prog.brk, prog.brk
	p.cfg = cfg
	p.undumpable = false
	for fd, ent := range p.files.fds {
		if ent.file != nil && ent.cloexec {
			if last, e := p.files.remove(int32(fd)); e == 0 && last != nil {
				_ = p.releaseFile(last)
			}
		}
	}
	for sig := range p.sig.actions {
		handler := p.sig.actions[sig].handler
		if handler != sigIGN {
			handler = sigDFL
		}
		p.sig.actions[sig] = sigAction{handler: handler}
	}
	prog.cpu.Instructions = t.cpu.Instructions
	t.cpu = prog.cpu
	if t.tid != p.cfg.PID {
		p.k.retid(t, p.cfg.PID) // it takes the place of the main thread, as on Linux
	}
	p.k.traceThread(t)
	t.clearTID = 0
	t.comm = initialComm(&cfg)
	t.sig.altSP, t.sig.altSize, t.sig.altFlags = 0, 0, 0
	t.sig.savedMask, t.sig.hasSavedMask = 0, false
	p.releaseVforkParent()
}

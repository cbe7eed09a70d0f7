package linux

// Each process has its own working directory, but the Env has one: the
// kernel moves the Env's to the running process's whenever the scheduler
// switches to a process whose directory differs. Until some process
// changes directory, every process has the one the Env started with and
// nothing moves.

// chdir makes dir the working directory of p.
func (p *Process) chdir(dir FileRef) Errno {
	k := p.k
	if !k.cwdMoved {
		cwd, e := p.env.Getcwd()
		if e != 0 {
			return e
		}
		k.initialCwd, k.cwdMoved = cwd, true
	}
	if e := p.env.Chdir(dir); e != 0 {
		return e
	}
	cwd, e := p.env.Getcwd()
	if e != 0 {
		return e
	}
	p.cwd, k.envCwd = cwd, cwd
	return 0
}

// enterCwd moves the Env's working directory to p's, before p runs.
func (k *kernel) enterCwd(p *Process) {
	want := p.cwd
	if want == "" {
		want = k.initialCwd
	}
	if !k.cwdMoved || want == k.envCwd {
		return
	}
	if e := p.env.Chdir(FileRef{Path: want}); e != 0 {
		p.log.Warn("cannot return to the process's working directory; it runs in another", "pid", p.cfg.PID, "dir", want, "errno", int(e))
	}
	k.envCwd = want
}

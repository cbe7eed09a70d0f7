package linux

import (
	"encoding/binary"
	"net/netip"
)

// Sockets: every socket is an Env handle; the kernel keeps the descriptor
// flags and turns EAGAIN into waits.

const (
	sockaddrInBytes  = 16
	sockaddrIn6Bytes = 28
	sockTypeMask     = 0xf
	maxSockoptBytes  = 256
)

// readSockaddr decodes a struct sockaddr_in or sockaddr_in6.
func (p *Process) readSockaddr(addr, length uint32) (netip.AddrPort, Errno) {
	if length < 2 || length > 128 {
		return netip.AddrPort{}, EINVAL
	}
	b, e := p.readUser(addr, int(length))
	if e != 0 {
		return netip.AddrPort{}, e
	}
	switch binary.BigEndian.Uint16(b) {
	case AF_INET:
		if length < sockaddrInBytes {
			return netip.AddrPort{}, EINVAL
		}
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[4:8])), binary.BigEndian.Uint16(b[2:])), 0
	case AF_INET6:
		if length < sockaddrIn6Bytes {
			return netip.AddrPort{}, EINVAL
		}
		return netip.AddrPortFrom(netip.AddrFrom16([16]byte(b[8:24])), binary.BigEndian.Uint16(b[2:])), 0
	}
	return netip.AddrPort{}, EAFNOSUPPORT
}

func encodeSockaddr(ap netip.AddrPort) []byte {
	if ap.Addr().Is4() {
		b := make(be, sockaddrInBytes)
		b.u16(0, AF_INET)
		b.u16(2, ap.Port())
		a4 := ap.Addr().As4()
		copy(b[4:], a4[:])
		return b
	}
	b := make(be, sockaddrIn6Bytes)
	b.u16(0, AF_INET6)
	b.u16(2, ap.Port())
	a16 := ap.Addr().As16()
	copy(b[8:], a16[:])
	return b
}

// writeSockaddr stores an address into (addr, *lenAddr) as accept and
// getsockname do: truncated to the buffer, with the full length reported.
func (p *Process) writeSockaddr(ap netip.AddrPort, addr, lenAddr uint32) Errno {
	if addr == 0 {
		return 0
	}
	room, e := p.readU32(lenAddr)
	if e != 0 {
		return e
	}
	if int32(room) < 0 {
		return EINVAL
	}
	b := encodeSockaddr(ap)
	if e := p.writeUser(addr, b[:min(len(b), int(room))]); e != 0 {
		return e
	}
	return p.writeU32(lenAddr, uint32(len(b)))
}

// socketFile returns the description of a socket descriptor.
func (p *Process) socketFile(fd uint32) (*openFile, Errno) {
	return p.fileWhere(fd, func(f *openFile) bool { return f.socket }, ENOTSOCK)
}

func (p *Process) installSocket(h Handle, flags uint32) sysResult {
	f := p.files.newFile(fileEnv, h, nil, O_RDWR|flags&O_NONBLOCK)
	f.socket = true
	fd, e := p.files.install(f, 0, flags&SOCK_CLOEXEC != 0)
	if e != 0 {
		p.env.Close(h)
		return fail(e)
	}
	return ok(uint32(fd))
}

// socketFlags turns SOCK_NONBLOCK into the O_NONBLOCK a description keeps.
func socketFlags(typ uint32) uint32 {
	flags := typ & SOCK_CLOEXEC
	if typ&SOCK_NONBLOCK != 0 {
		flags |= O_NONBLOCK
	}
	return flags
}

// socket(domain, type, protocol)
func sysSocket(p *Process, t *thread, a sysArgs) sysResult {
	if a[0] != AF_INET && a[0] != AF_INET6 {
		return fail(EAFNOSUPPORT)
	}
	if a[1]&^(sockTypeMask|SOCK_NONBLOCK|SOCK_CLOEXEC) != 0 {
		return fail(EINVAL)
	}
	h, e := p.env.Socket(int(a[0]), int(a[1]&sockTypeMask), int(a[2]))
	if e != 0 {
		return fail(e)
	}
	return p.installSocket(h, socketFlags(a[1]))
}

// bind(fd, addr, addrlen)
func sysBind(p *Process, t *thread, a sysArgs) sysResult {
	f, e := p.socketFile(a[0])
	if e != 0 {
		return fail(e)
	}
	ap, e := p.readSockaddr(a[1], a[2])
	if e != 0 {
		return fail(e)
	}
	return result(0, p.env.Bind(f.handle, ap))
}

// listen(fd, backlog)
func sysListen(p *Process, t *thread, a sysArgs) sysResult {
	f, e := p.socketFile(a[0])
	if e != 0 {
		return fail(e)
	}
	return result(0, p.env.Listen(f.handle, int(int32(a[1]))))
}

func (p *Process) accept(t *thread, fd, addr, lenAddr, flags uint32) sysResult {
	if flags&^(SOCK_NONBLOCK|SOCK_CLOEXEC) != 0 {
		return fail(EINVAL)
	}
	f, e := p.socketFile(fd)
	if e != 0 {
		return fail(e)
	}
	h, peer, e := p.env.Accept(f.handle)
	if e == EAGAIN {
		return p.wouldBlock(t, int32(fd), f, PollIn, false)
	}
	if e != 0 {
		return fail(e)
	}
	if e := p.writeSockaddr(peer, addr, lenAddr); e != 0 {
		p.env.Close(h)
		return fail(e)
	}
	return p.installSocket(h, socketFlags(flags))
}

// accept(fd, addr, addrlen)
func sysAccept(p *Process, t *thread, a sysArgs) sysResult { return p.accept(t, a[0], a[1], a[2], 0) }

// accept4(fd, addr, addrlen, flags)
func sysAccept4(p *Process, t *thread, a sysArgs) sysResult {
	return p.accept(t, a[0], a[1], a[2], a[3])
}

// connect(fd, addr, addrlen). A blocking connect that the Env starts in
// the background waits until the socket is writable, then reports the
// outcome from SO_ERROR.
func sysConnect(p *Process, t *thread, a sysArgs) sysResult {
	f, e := p.socketFile(a[0])
	if e != 0 {
		return fail(e)
	}
	if t.wait != nil && t.wait.connecting {
		return fail(p.socketError(f))
	}
	ap, e := p.readSockaddr(a[1], a[2])
	if e != 0 {
		return fail(e)
	}
	e = p.env.Connect(f.handle, ap)
	if e != EINPROGRESS || f.nonblocking() {
		return result(0, e)
	}
	return p.block(t, &waitState{kind: waitRetry, connecting: true, fds: []waitFD{{fd: int32(a[0]), events: PollOut}}})
}

func (p *Process) socketError(f *openFile) Errno {
	b, e := p.env.GetSockOpt(f.handle, SOL_SOCKET, SO_ERROR, 4)
	if e != 0 {
		return e
	}
	if len(b) < 4 {
		return EIO
	}
	return Errno(binary.BigEndian.Uint32(b))
}

// shutdown(fd, how)
func sysShutdown(p *Process, t *thread, a sysArgs) sysResult {
	f, e := p.socketFile(a[0])
	if e != 0 {
		return fail(e)
	}
	return result(0, p.env.Shutdown(f.handle, int(a[1])))
}

func (p *Process) sockName(a sysArgs, peer bool) sysResult {
	f, e := p.socketFile(a[0])
	if e != 0 {
		return fail(e)
	}
	var ap netip.AddrPort
	if peer {
		ap, e = p.env.PeerName(f.handle)
	} else {
		ap, e = p.env.SockName(f.handle)
	}
	if e != 0 {
		return fail(e)
	}
	return result(0, p.writeSockaddr(ap, a[1], a[2]))
}

// getsockname(fd, addr, addrlen)
func sysGetsockname(p *Process, t *thread, a sysArgs) sysResult { return p.sockName(a, false) }

// getpeername(fd, addr, addrlen)
func sysGetpeername(p *Process, t *thread, a sysArgs) sysResult { return p.sockName(a, true) }

// setsockopt(fd, level, name, value, length)
func sysSetsockopt(p *Process, t *thread, a sysArgs) sysResult {
	f, e := p.socketFile(a[0])
	if e != 0 {
		return fail(e)
	}
	if a[4] > maxSockoptBytes {
		return fail(EINVAL)
	}
	v, e := p.readUser(a[3], int(a[4]))
	if e != 0 {
		return fail(e)
	}
	return result(0, p.env.SetSockOpt(f.handle, int(a[1]), int(a[2]), v))
}

// getsockopt(fd, level, name, value, length)
func sysGetsockopt(p *Process, t *thread, a sysArgs) sysResult {
	f, e := p.socketFile(a[0])
	if e != 0 {
		return fail(e)
	}
	room, e := p.readU32(a[4])
	if e != 0 {
		return fail(e)
	}
	if int32(room) < 0 {
		return fail(EINVAL)
	}
	v, e := p.env.GetSockOpt(f.handle, int(a[1]), int(a[2]), int(min(room, maxSockoptBytes)))
	if e != 0 {
		return fail(e)
	}
	v = v[:min(len(v), int(room))]
	if e := p.writeUser(a[3], v); e != 0 {
		return fail(e)
	}
	return result(0, p.writeU32(a[4], uint32(len(v))))
}

// send(fd, buf, len, flags)
func sysSend(p *Process, t *thread, a sysArgs) sysResult {
	return p.sendto(t, a[0], a[1], a[2], a[3], 0)
}

// sendto(fd, buf, len, flags, addr, addrlen): connected sockets only.
func sysSendto(p *Process, t *thread, a sysArgs) sysResult {
	return p.sendto(t, a[0], a[1], a[2], a[3], a[4])
}

func (p *Process) sendto(t *thread, fd, buf, length, flags, addr uint32) sysResult {
	if _, e := p.socketFile(fd); e != 0 {
		return fail(e)
	}
	if addr != 0 {
		return fail(EISCONN)
	}
	data, e := p.readUser(buf, min(int(length), maxIO))
	if e != 0 {
		return fail(e)
	}
	return p.write(t, int32(fd), data, flags&MSG_DONTWAIT != 0, flags&MSG_NOSIGNAL != 0)
}

// recv(fd, buf, len, flags)
func sysRecv(p *Process, t *thread, a sysArgs) sysResult {
	return p.recvfrom(t, a[0], a[1], a[2], a[3], 0)
}

// recvfrom(fd, buf, len, flags, addr, addrlen): a connected socket reports
// no source address, as Linux does for TCP.
func sysRecvfrom(p *Process, t *thread, a sysArgs) sysResult {
	return p.recvfrom(t, a[0], a[1], a[2], a[3], a[5])
}

func (p *Process) recvfrom(t *thread, fd, buf, length, flags, lenAddr uint32) sysResult {
	if _, e := p.socketFile(fd); e != 0 {
		return fail(e)
	}
	r := p.read(t, int32(fd), buf, int(length), flags&MSG_DONTWAIT != 0)
	if r.action == actReturn && int32(r.ret) >= 0 && lenAddr != 0 {
		if e := p.writeU32(lenAddr, 0); e != 0 {
			return fail(e)
		}
	}
	return r
}

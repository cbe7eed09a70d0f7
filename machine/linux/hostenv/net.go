package hostenv

import (
	"encoding/binary"
	"net/netip"
	"syscall"

	"github.com/synodvm/synod/machine/linux"
)

// Sockets are host sockets in non-blocking mode: the kernel turns EAGAIN
// into guest waits, and Wait polls them when the guest is idle.

func (e *Env) Socket(domain, typ, protocol int) (linux.Handle, linux.Errno) {
	var hostDomain int
	switch domain {
	case linux.AF_INET:
		hostDomain = syscall.AF_INET
	case linux.AF_INET6:
		hostDomain = syscall.AF_INET6
	default:
		return 0, linux.EAFNOSUPPORT
	}
	fd, err := syscall.Socket(hostDomain, typ|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, protocol)
	if err != nil {
		return 0, errno(err)
	}
	return e.add(&object{fd: fd}), 0
}

func sockaddr(ap netip.AddrPort) syscall.Sockaddr {
	if ap.Addr().Is4() {
		return &syscall.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().As4()}
	}
	return &syscall.SockaddrInet6{Port: int(ap.Port()), Addr: ap.Addr().As16()}
}

func addrPort(sa syscall.Sockaddr) netip.AddrPort {
	switch a := sa.(type) {
	case *syscall.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(a.Addr), uint16(a.Port))
	case *syscall.SockaddrInet6:
		return netip.AddrPortFrom(netip.AddrFrom16(a.Addr), uint16(a.Port))
	}
	return netip.AddrPort{}
}

func (e *Env) Bind(h linux.Handle, addr netip.AddrPort) linux.Errno {
	return e.do(h, func(fd int) error { return syscall.Bind(fd, sockaddr(addr)) })
}

func (e *Env) Listen(h linux.Handle, backlog int) linux.Errno {
	return e.do(h, func(fd int) error { return syscall.Listen(fd, backlog) })
}

func (e *Env) Accept(h linux.Handle) (linux.Handle, netip.AddrPort, linux.Errno) {
	o, en := e.get(h)
	if en != 0 {
		return 0, netip.AddrPort{}, en
	}
	fd, sa, err := syscall.Accept4(o.fd, syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC)
	if err != nil {
		return 0, netip.AddrPort{}, errno(err)
	}
	return e.add(&object{fd: fd}), addrPort(sa), 0
}

func (e *Env) Connect(h linux.Handle, addr netip.AddrPort) linux.Errno {
	return e.do(h, func(fd int) error { return syscall.Connect(fd, sockaddr(addr)) })
}

func (e *Env) Shutdown(h linux.Handle, how int) linux.Errno {
	return e.do(h, func(fd int) error { return syscall.Shutdown(fd, how) })
}

// sockopt is a guest socket option the host knows, with its host names.
type sockopt struct {
	level, name int
	linger      bool // struct linger {onoff, linger} instead of an int
}

var sockopts = map[[2]int]sockopt{
	{linux.SOL_SOCKET, linux.SO_REUSEADDR}:  {syscall.SOL_SOCKET, syscall.SO_REUSEADDR, false},
	{linux.SOL_SOCKET, linux.SO_REUSEPORT}:  {syscall.SOL_SOCKET, 15, false}, // SO_REUSEPORT
	{linux.SOL_SOCKET, linux.SO_KEEPALIVE}:  {syscall.SOL_SOCKET, syscall.SO_KEEPALIVE, false},
	{linux.SOL_SOCKET, linux.SO_SNDBUF}:     {syscall.SOL_SOCKET, syscall.SO_SNDBUF, false},
	{linux.SOL_SOCKET, linux.SO_RCVBUF}:     {syscall.SOL_SOCKET, syscall.SO_RCVBUF, false},
	{linux.SOL_SOCKET, linux.SO_ERROR}:      {syscall.SOL_SOCKET, syscall.SO_ERROR, false},
	{linux.SOL_SOCKET, linux.SO_TYPE}:       {syscall.SOL_SOCKET, syscall.SO_TYPE, false},
	{linux.SOL_SOCKET, linux.SO_LINGER}:     {syscall.SOL_SOCKET, syscall.SO_LINGER, true},
	{linux.IPPROTO_TCP, linux.TCP_NODELAY}:  {syscall.IPPROTO_TCP, syscall.TCP_NODELAY, false},
	{linux.IPPROTO_IPV6, linux.IPV6_V6ONLY}: {syscall.IPPROTO_IPV6, syscall.IPV6_V6ONLY, false},
}

func (e *Env) SetSockOpt(h linux.Handle, level, name int, value []byte) linux.Errno {
	o, en := e.get(h)
	if en != 0 {
		return en
	}
	opt, known := sockopts[[2]int{level, name}]
	if !known {
		return linux.ENOPROTOOPT
	}
	if opt.linger {
		if len(value) < 8 {
			return linux.EINVAL
		}
		l := syscall.Linger{Onoff: int32(binary.BigEndian.Uint32(value)), Linger: int32(binary.BigEndian.Uint32(value[4:]))}
		return errno(syscall.SetsockoptLinger(o.fd, opt.level, opt.name, &l))
	}
	if len(value) < 4 {
		return linux.EINVAL
	}
	return errno(syscall.SetsockoptInt(o.fd, opt.level, opt.name, int(int32(binary.BigEndian.Uint32(value)))))
}

func (e *Env) GetSockOpt(h linux.Handle, level, name, size int) ([]byte, linux.Errno) {
	o, en := e.get(h)
	if en != 0 {
		return nil, en
	}
	opt, known := sockopts[[2]int{level, name}]
	if !known || opt.linger {
		return nil, linux.ENOPROTOOPT
	}
	v, err := syscall.GetsockoptInt(o.fd, opt.level, opt.name)
	if err != nil {
		return nil, errno(err)
	}
	if level == linux.SOL_SOCKET && name == linux.SO_ERROR && v != 0 {
		v = int(errno(syscall.Errno(v)))
	}
	b := make([]byte, 4)
	binary.BigEndian.PutUint32(b, uint32(v))
	return b[:min(size, 4)], 0
}

func (e *Env) SockName(h linux.Handle) (netip.AddrPort, linux.Errno) {
	o, en := e.get(h)
	if en != 0 {
		return netip.AddrPort{}, en
	}
	sa, err := syscall.Getsockname(o.fd)
	if err != nil {
		return netip.AddrPort{}, errno(err)
	}
	return addrPort(sa), 0
}

func (e *Env) PeerName(h linux.Handle) (netip.AddrPort, linux.Errno) {
	o, en := e.get(h)
	if en != 0 {
		return netip.AddrPort{}, en
	}
	sa, err := syscall.Getpeername(o.fd)
	if err != nil {
		return netip.AddrPort{}, errno(err)
	}
	return addrPort(sa), 0
}

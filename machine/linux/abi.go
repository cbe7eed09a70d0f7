package linux

// Guest ABI numbers of hppa Linux that the kernel interprets. Where hppa
// differs from other Linux ports (open flags, signal numbers, socket
// options) the values here are the hppa ones.

// Open flags (arch/parisc/include/uapi/asm/fcntl.h).
const (
	O_ACCMODE   = 0x3
	O_RDONLY    = 0x0
	O_WRONLY    = 0x1
	O_RDWR      = 0x2
	O_APPEND    = 0x8
	O_NOFOLLOW  = 0x80
	O_CREAT     = 0x100
	O_TRUNC     = 0x200
	O_EXCL      = 0x400
	O_LARGEFILE = 0x800
	O_DIRECTORY = 0x1000
	O_NONBLOCK  = 0x10000
	O_NOCTTY    = 0x20000
	O_CLOEXEC   = 0x200000
)

// Socket constants.
const (
	AF_UNIX  = 1
	AF_INET  = 2
	AF_INET6 = 10

	SOCK_STREAM   = 1
	SOCK_DGRAM    = 2
	SOCK_NONBLOCK = 0x40000000
	SOCK_CLOEXEC  = O_CLOEXEC

	SOL_SOCKET   = 0xffff
	SO_REUSEADDR = 0x0004
	SO_KEEPALIVE = 0x0008
	SO_LINGER    = 0x0080
	SO_REUSEPORT = 0x0200
	SO_SNDBUF    = 0x1001
	SO_RCVBUF    = 0x1002
	SO_ERROR     = 0x1007
	SO_TYPE      = 0x1008

	IPPROTO_TCP  = 6
	IPPROTO_IPV6 = 41
	TCP_NODELAY  = 1
	IPV6_V6ONLY  = 26

	MSG_PEEK     = 0x2
	MSG_DONTWAIT = 0x40
	MSG_NOSIGNAL = 0x4000
)

// File type bits of st_mode.
const (
	S_IFMT   = 0o170000
	S_IFSOCK = 0o140000
	S_IFLNK  = 0o120000
	S_IFREG  = 0o100000
	S_IFDIR  = 0o040000
	S_IFCHR  = 0o020000
	S_IFIFO  = 0o010000
)

// Directory entry types (d_type).
const (
	DT_UNKNOWN = 0
	DT_FIFO    = 1
	DT_CHR     = 2
	DT_DIR     = 4
	DT_REG     = 8
	DT_LNK     = 10
	DT_SOCK    = 12
)

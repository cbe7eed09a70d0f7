package linux

import "fmt"

// Errno is an error number as hppa Linux defines it. Many differ from other
// Linux ports (ENOSYS is 251, ECONNREFUSED 239): always use these names.
// The zero Errno means success.
type Errno int32

// Error numbers (arch/parisc/include/uapi/asm/errno.h and errno-base.h).
const (
	EPERM           Errno = 1
	ENOENT          Errno = 2
	ESRCH           Errno = 3
	EINTR           Errno = 4
	EIO             Errno = 5
	ENXIO           Errno = 6
	E2BIG           Errno = 7
	ENOEXEC         Errno = 8
	EBADF           Errno = 9
	ECHILD          Errno = 10
	EAGAIN          Errno = 11
	ENOMEM          Errno = 12
	EACCES          Errno = 13
	EFAULT          Errno = 14
	EBUSY           Errno = 16
	EEXIST          Errno = 17
	EXDEV           Errno = 18
	ENODEV          Errno = 19
	ENOTDIR         Errno = 20
	EISDIR          Errno = 21
	EINVAL          Errno = 22
	ENFILE          Errno = 23
	EMFILE          Errno = 24
	ENOTTY          Errno = 25
	EFBIG           Errno = 27
	ENOSPC          Errno = 28
	ESPIPE          Errno = 29
	EROFS           Errno = 30
	EMLINK          Errno = 31
	EPIPE           Errno = 32
	EDOM            Errno = 33
	ERANGE          Errno = 34
	EDEADLK         Errno = 45
	ENOLCK          Errno = 46
	EILSEQ          Errno = 47
	ENODATA         Errno = 51
	EOVERFLOW       Errno = 72
	ENOTSOCK        Errno = 216
	EDESTADDRREQ    Errno = 217
	EMSGSIZE        Errno = 218
	EPROTOTYPE      Errno = 219
	ENOPROTOOPT     Errno = 220
	EPROTONOSUPPORT Errno = 221
	ESOCKTNOSUPPORT Errno = 222
	EOPNOTSUPP      Errno = 223
	EPFNOSUPPORT    Errno = 224
	EAFNOSUPPORT    Errno = 225
	EADDRINUSE      Errno = 226
	EADDRNOTAVAIL   Errno = 227
	ENETDOWN        Errno = 228
	ENETUNREACH     Errno = 229
	ENETRESET       Errno = 230
	ECONNABORTED    Errno = 231
	ECONNRESET      Errno = 232
	ENOBUFS         Errno = 233
	EISCONN         Errno = 234
	ENOTCONN        Errno = 235
	ESHUTDOWN       Errno = 236
	ETIMEDOUT       Errno = 238
	ECONNREFUSED    Errno = 239
	EHOSTDOWN       Errno = 241
	EHOSTUNREACH    Errno = 242
	EALREADY        Errno = 244
	EINPROGRESS     Errno = 245
	ENOTEMPTY       Errno = 247
	ENAMETOOLONG    Errno = 248
	ELOOP           Errno = 249
	ENOSYS          Errno = 251
	ENOTSUP         Errno = 252
	ECANCELED       Errno = 253
)

func (e Errno) Error() string { return fmt.Sprintf("errno %d", int32(e)) }

// ret is the value a system call leaves in r28 for this error.
func (e Errno) ret() uint32 { return uint32(-int32(e)) }

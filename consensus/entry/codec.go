package entry

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/synodvm/synod/consensus"
)

// Limits on decoded sizes, so that a corrupt or hostile entry cannot make a
// replica allocate without bound.
const (
	MaxDataLen = 1 << 20 // bytes in one ConnData or Random
	// MaxInputs and MaxInputsData bound one Inputs batch: its entries, and
	// the client bytes of all its ConnData together.
	MaxInputs     = 4096
	MaxInputsData = MaxDataLen
	maxStrings    = 4096 // argv + envp entries
	maxStringLen  = 1 << 16
	maxMembers    = 64
	maxDisks      = 256 // disk paths in a boot entry
	maxHashParts  = 8
)

// InputData is the client bytes an input counts toward MaxInputsData.
func InputData(e Entry) int {
	if d, ok := e.(ConnData); ok {
		return len(d.Data)
	}
	return 0
}

// InputsHeader and InputOverhead bound an Inputs batch's encoded size: at
// most InputsHeader bytes, and InputOverhead more for each input beside
// its client bytes (a proposer whose log bounds a proposal's size packs
// batches by them).
const (
	InputsHeader  = 16
	InputOverhead = 48
)

// DataThatFits is the most data (client bytes, console input, a read's
// answer) one entry proposed alone may carry for its encoding to stay
// within maxProposal bytes, a log's bound on a proposal: an entry beside
// its data takes no more than an input in a batch does. 0 when
// maxProposal is 0, no bound.
func DataThatFits(maxProposal int) int {
	if maxProposal <= 0 {
		return 0
	}
	return max(maxProposal-InputOverhead, 1)
}

// Encode returns the wire form of e: its kind byte, then its fields as
// unsigned varints and length-prefixed byte strings.
func Encode(e Entry) []byte {
	w := writer{buf: []byte{byte(e.Kind())}}
	switch e := e.(type) {
	case Boot:
		w.bytes(e.GuestDigest[:])
		w.strings(e.Argv)
		w.strings(e.Envp)
		w.bytes(e.AuxRandom[:])
		w.int(e.Time)
		w.uint(e.EpochInstructions)
		w.uint(e.NanosPerInstruction)
		w.uint(e.HashEvery)
		w.uint(uint64(len(e.Members)))
		for _, m := range e.Members {
			w.uint(uint64(m))
		}
		w.uint(e.MemoryLimit)
		w.uint(uint64(len(e.Disks)))
		for _, d := range e.Disks {
			w.bytes([]byte(d.Disk))
			w.uint(uint64(d.Node))
			w.int(d.Size)
		}
		w.bool(e.ConsoleInput)
		w.uint(e.MaxProcesses)
		w.bytes(e.RootDigest[:])
		w.uint(e.RandomContributors)
	case Seal:
		w.uint(e.Through)
		w.int(e.Time)
	case ConnOpen:
		w.conn(e.Conn)
		w.uint(uint64(e.Port))
		w.bytes(e.PeerIP[:])
		w.uint(uint64(e.PeerPort))
	case ConnData:
		w.conn(e.Conn)
		w.uint(e.Offset)
		w.bytes(e.Data)
	case ConnClose:
		w.conn(e.Conn)
	case Random:
		w.uint(uint64(e.Node))
		w.bytes(e.Data)
	case RandomCommit:
		w.uint(uint64(e.Node))
		w.uint(e.Round)
		w.bytes(e.Hash[:])
	case NodeDown:
		w.uint(uint64(e.Node))
	case NodeUp:
		w.uint(uint64(e.Node))
	case StateHash:
		w.uint(uint64(e.Node))
		w.uint(e.Epoch)
		w.bytes(e.Hash[:])
		w.uint(uint64(len(e.Parts)))
		for _, p := range e.Parts {
			w.bytes(p[:])
		}
	case ConsoleDone:
		w.uint(uint64(e.Node))
		w.uint(e.Seq)
	case ConsoleIn:
		w.uint(uint64(e.Node))
		w.uint(e.Offset)
		w.bytes(e.Data)
		w.bool(e.EOF)
	case Completion:
		w.uint(uint64(e.Node))
		w.uint(e.Seq)
		w.uint(uint64(e.Errno))
		w.uint(e.N)
		w.bytes(e.Data)
		w.uint(e.From)
		w.bool(e.More)
	case Inputs:
		w.int(e.Time)
		w.uint(uint64(len(e.Entries)))
		for _, in := range e.Entries {
			w.bytes(Encode(in))
		}
	}
	return w.buf
}

// ErrMalformed is wrapped by every decoding error.
var ErrMalformed = errors.New("malformed log entry")

// Decode parses one entry. Trailing bytes, unknown kinds, oversized fields
// and truncation are errors.
func Decode(b []byte) (Entry, error) {
	if len(b) == 0 {
		return nil, fmt.Errorf("%w: empty", ErrMalformed)
	}
	r := reader{buf: b[1:]}
	var e Entry
	switch Kind(b[0]) {
	case KindBoot:
		var v Boot
		r.fixed(v.GuestDigest[:])
		v.Argv = r.strings()
		v.Envp = r.strings()
		r.fixed(v.AuxRandom[:])
		v.Time = r.int()
		v.EpochInstructions = r.uint()
		v.NanosPerInstruction = r.uint()
		v.HashEvery = r.uint()
		n := r.count(maxMembers)
		for i := 0; i < n; i++ {
			v.Members = append(v.Members, consensus.NodeID(r.uint()))
		}
		// Boot entries logged before the limit, or the disks, existed end
		// early.
		if len(r.buf) > 0 {
			v.MemoryLimit = r.uint()
		}
		if len(r.buf) > 0 {
			n := r.count(maxDisks)
			for i := 0; i < n && r.err == nil; i++ {
				v.Disks = append(v.Disks, DiskPath{Disk: string(r.view(maxStringLen)), Node: consensus.NodeID(r.uint()), Size: r.int()})
			}
		}
		if len(r.buf) > 0 {
			v.ConsoleInput = r.bool()
		}
		if len(r.buf) > 0 {
			v.MaxProcesses = r.uint()
		}
		if len(r.buf) > 0 {
			r.fixed(v.RootDigest[:])
		}
		if len(r.buf) > 0 {
			v.RandomContributors = uint64(r.count(maxMembers))
		}
		e = v
	case KindSeal:
		e = Seal{Through: r.uint(), Time: r.int()}
	case KindConnOpen:
		var v ConnOpen
		v.Conn = r.conn()
		v.Port = r.uint16()
		r.fixed(v.PeerIP[:])
		v.PeerPort = r.uint16()
		e = v
	case KindConnData:
		e = ConnData{Conn: r.conn(), Offset: r.uint(), Data: r.bytes(MaxDataLen)}
	case KindConnClose:
		e = ConnClose{Conn: r.conn()}
	case KindRandom:
		e = Random{Node: consensus.NodeID(r.uint()), Data: r.bytes(MaxDataLen)}
	case KindRandomCommit:
		v := RandomCommit{Node: consensus.NodeID(r.uint()), Round: r.uint()}
		r.fixed(v.Hash[:])
		e = v
	case KindNodeDown:
		e = NodeDown{Node: consensus.NodeID(r.uint())}
	case KindNodeUp:
		e = NodeUp{Node: consensus.NodeID(r.uint())}
	case KindStateHash:
		var v StateHash
		v.Node = consensus.NodeID(r.uint())
		v.Epoch = r.uint()
		r.fixed(v.Hash[:])
		n := r.count(maxHashParts)
		for i := 0; i < n && r.err == nil; i++ {
			var p [32]byte
			r.fixed(p[:])
			v.Parts = append(v.Parts, p)
		}
		e = v
	case KindInputs:
		e = r.inputs()
	case KindConsoleDone:
		e = ConsoleDone{Node: consensus.NodeID(r.uint()), Seq: r.uint()}
	case KindConsoleIn:
		e = ConsoleIn{Node: consensus.NodeID(r.uint()), Offset: r.uint(), Data: r.bytes(MaxDataLen), EOF: r.bool()}
	case KindCompletion:
		v := Completion{Node: consensus.NodeID(r.uint()), Seq: r.uint()}
		errno := r.uint()
		if errno > 0xffff {
			r.fail("errno %d out of range", errno)
		}
		v.Errno, v.N, v.Data = uint32(errno), r.uint(), r.bytes(MaxDataLen)
		// Completions logged before answers came in parts end here.
		if len(r.buf) > 0 {
			v.From, v.More = r.uint(), r.bool()
		}
		e = v
	default:
		return nil, fmt.Errorf("%w: unknown kind %d", ErrMalformed, b[0])
	}
	if r.err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrMalformed, Kind(b[0]), r.err)
	}
	if len(r.buf) != 0 {
		return nil, fmt.Errorf("%w: %s: %d trailing bytes", ErrMalformed, Kind(b[0]), len(r.buf))
	}
	return e, nil
}

type writer struct{ buf []byte }

func (w *writer) uint(v uint64) { w.buf = binary.AppendUvarint(w.buf, v) }
func (w *writer) int(v int64)   { w.buf = binary.AppendVarint(w.buf, v) }

func (w *writer) bool(v bool) {
	if v {
		w.uint(1)
	} else {
		w.uint(0)
	}
}

func (w *writer) bytes(b []byte) {
	w.uint(uint64(len(b)))
	w.buf = append(w.buf, b...)
}

func (w *writer) strings(ss []string) {
	w.uint(uint64(len(ss)))
	for _, s := range ss {
		w.bytes([]byte(s))
	}
}

func (w *writer) conn(c ConnID) {
	w.uint(uint64(c.Node))
	w.uint(c.Serial)
}

// reader decodes fields in order; after the first error every read returns
// zero values and err keeps that first error.
type reader struct {
	buf []byte
	err error
}

func (r *reader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf(format, args...)
	}
	r.buf = nil
}

func (r *reader) uint() uint64 {
	v, n := binary.Uvarint(r.buf)
	if n <= 0 {
		r.fail("bad unsigned varint")
		return 0
	}
	r.buf = r.buf[n:]
	return v
}

func (r *reader) int() int64 {
	v, n := binary.Varint(r.buf)
	if n <= 0 {
		r.fail("bad signed varint")
		return 0
	}
	r.buf = r.buf[n:]
	return v
}

func (r *reader) bool() bool {
	switch v := r.uint(); v {
	case 0:
		return false
	case 1:
		return true
	default:
		r.fail("boolean %d", v)
		return false
	}
}

func (r *reader) uint16() uint16 {
	v := r.uint()
	if v > 0xffff {
		r.fail("port %d out of range", v)
	}
	return uint16(v)
}

func (r *reader) count(limit int) int {
	v := r.uint()
	if v > uint64(limit) {
		r.fail("count %d over limit %d", v, limit)
		return 0
	}
	return int(v)
}

func (r *reader) bytes(limit int) []byte {
	v := r.view(limit)
	if r.err != nil {
		return nil
	}
	return append(make([]byte, 0, len(v)), v...)
}

// view reads a length-prefixed field in place: the caller copies what it
// keeps. Nested inputs, fixed fields and strings are copied once where
// they end up, not once more on the way.
func (r *reader) view(limit int) []byte {
	n := r.count(limit)
	if n > len(r.buf) {
		r.fail("field of %d bytes truncated", n)
		return nil
	}
	b := r.buf[:n:n]
	r.buf = r.buf[n:]
	return b
}

// fixed reads a length-prefixed field that must have exactly len(dst) bytes.
func (r *reader) fixed(dst []byte) {
	b := r.view(len(dst))
	if r.err == nil && len(b) != len(dst) {
		r.fail("field has %d bytes, want %d", len(b), len(dst))
	}
	copy(dst, b)
}

func (r *reader) strings() []string {
	n := r.count(maxStrings)
	var ss []string
	for i := 0; i < n && r.err == nil; i++ {
		ss = append(ss, string(r.view(maxStringLen)))
	}
	return ss
}

// inputsEntryOverhead bounds the encoding of a client input beyond its
// data: kind, connection id, offset and length prefix.
const inputsEntryOverhead = 64

func (r *reader) inputs() Inputs {
	v := Inputs{Time: r.int()}
	n := r.count(MaxInputs)
	// Every input takes at least a byte, so what is left bounds the
	// list whatever n claims.
	if n > 0 {
		v.Entries = make([]Entry, 0, min(n, len(r.buf)))
	}
	data := 0
	for i := 0; i < n && r.err == nil; i++ {
		b := r.view(MaxDataLen + inputsEntryOverhead)
		if r.err != nil {
			break
		}
		in, err := Decode(b)
		switch {
		case err != nil:
			r.fail("input %d: %v", i, err)
		case !IsClientInput(in):
			r.fail("input %d is a %s, not a client input", i, in.Kind())
		default:
			if data += InputData(in); data > MaxInputsData {
				r.fail("more than %d bytes of client data", MaxInputsData)
			}
			v.Entries = append(v.Entries, in)
		}
	}
	return v
}

func (r *reader) conn() ConnID {
	return ConnID{Node: consensus.NodeID(r.uint()), Serial: r.uint()}
}

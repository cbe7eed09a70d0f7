package entry

import (
	"math"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/synodvm/synod/consensus"
)

func sampleEntries() []Entry {
	conn := ConnID{Node: 3, Serial: 1<<40 + 7}
	return []Entry{
		Boot{
			GuestDigest:         [32]byte{1, 2, 3},
			Argv:                []string{"kvd", "--port", "6379"},
			Envp:                []string{"HOME=/"},
			AuxRandom:           [16]byte{9, 8, 7},
			Time:                1_700_000_000_000_000_000,
			EpochInstructions:   200_000,
			NanosPerInstruction: 10,
			HashEvery:           64,
			Members:             []consensus.NodeID{1, 2, 3},
			MemoryLimit:         1 << 30,
			Disks:               []DiskPath{{Disk: "journal", Node: 1, Size: 1 << 30}, {Disk: "journal", Node: 2, Size: 1 << 30}},
			ConsoleInput:        true,
			MaxProcesses:        64,
			RootDigest:          [32]byte{9, 8, 7},
			RandomContributors:  2,
		},
		Boot{},
		Seal{Through: 12, Time: -5},
		ConnOpen{Conn: conn, Port: 6379, PeerIP: [4]byte{127, 0, 0, 1}, PeerPort: 51000},
		ConnData{Conn: conn, Offset: 1 << 33, Data: []byte("*1\r\n$4\r\nPING\r\n")},
		ConnData{Conn: conn, Data: []byte{}},
		ConnClose{Conn: conn},
		Random{Node: 2, Data: make([]byte, 256)},
		RandomCommit{Node: 3, Round: 1 << 20, Hash: [32]byte{0xaa, 31: 0x55}},
		NodeDown{Node: 1},
		NodeUp{Node: 1},
		StateHash{Node: 2, Epoch: 640, Hash: [32]byte{0xff}, Parts: [][32]byte{{1}, {2}, {3}}},
		StateHash{Node: 2, Epoch: 641},
		Inputs{Time: 1_700_000_000_000_000_001, Entries: []Entry{
			ConnOpen{Conn: conn, Port: 6379},
			ConnData{Conn: conn, Offset: 3, Data: []byte("GET k\r\n")},
			ConnClose{Conn: conn},
		}},
		Inputs{},
		ConsoleDone{Node: 3, Seq: 1 << 40},
		Completion{Node: 2, Seq: 1 << 35, N: 4096, Data: []byte{}},
		ConsoleIn{Node: 2, Offset: 7, Data: []byte("ls\n")},
		ConsoleIn{Node: 3, Offset: 10, Data: []byte{}, EOF: true},
		Completion{Node: 1, Seq: 7, Data: []byte("block")},
		Completion{Node: 1, Seq: 8, Errno: 5, Data: []byte{}},
		Completion{Node: 1, Seq: 9, Data: []byte("part"), From: 1 << 16, More: true},
	}
}

// A completion logged before answers came in parts (no From, no More)
// is a whole answer.
func TestCompletionOfAnEarlierFormatIsWhole(t *testing.T) {
	whole := Completion{Node: 1, Seq: 7, Data: []byte("block")}
	enc := Encode(whole)
	got, err := Decode(enc[:len(enc)-2]) // From 0 and More false: a byte each
	require.NoError(t, err)
	require.Equal(t, whole, got)
}

func TestCompletionParts(t *testing.T) {
	data := []byte("0123456789")
	read := Completion{Node: 2, Seq: 5, Data: data}
	for _, tc := range []struct {
		name    string
		c       Completion
		maxData int
		want    []Completion
	}{
		{"no bound", read, 0, []Completion{read}},
		{"fits", read, 10, []Completion{read}},
		{"a failure", Completion{Node: 2, Seq: 5, Errno: 5}, 3, []Completion{{Node: 2, Seq: 5, Errno: 5}}},
		{"split", read, 4, []Completion{
			{Node: 2, Seq: 5, Data: data[:4], More: true},
			{Node: 2, Seq: 5, Data: data[4:8], From: 4, More: true},
			{Node: 2, Seq: 5, Data: data[8:], From: 8},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, tc.c.Parts(tc.maxData))
		})
	}
}

func TestRoundTrip(t *testing.T) {
	for _, e := range sampleEntries() {
		t.Run(e.Kind().String(), func(t *testing.T) {
			got, err := Decode(Encode(e))
			require.NoError(t, err)
			require.Equal(t, normalize(e), normalize(got))
		})
	}
}

// normalize makes nil and empty byte slices compare equal: the wire form
// does not distinguish them.
func normalize(e Entry) Entry {
	switch v := e.(type) {
	case ConnData:
		if len(v.Data) == 0 {
			v.Data = nil
		}
		return v
	case Random:
		if len(v.Data) == 0 {
			v.Data = nil
		}
		return v
	case Inputs:
		var entries []Entry
		for _, in := range v.Entries {
			entries = append(entries, normalize(in))
		}
		v.Entries = entries
		return v
	}
	return e
}

// rootDigestBytes is the root file system's digest in a boot entry: a
// length and 32 bytes, before the random contributors (one byte when
// zero), the last field.
const rootDigestBytes = 33 + noContributorsBytes

const noContributorsBytes = 1

// A boot entry logged before it named random contributors decodes as one
// of a crash-fault cluster.
func TestBootWithoutRandomContributorsDecodes(t *testing.T) {
	b := Boot{GuestDigest: [32]byte{1}, Argv: []string{"kvd"}, EpochInstructions: 200_000, Members: []consensus.NodeID{1}, RootDigest: [32]byte{4}}
	wire := Encode(b)
	got, err := Decode(wire[:len(wire)-noContributorsBytes])
	require.NoError(t, err)
	require.Equal(t, b, got)
}

// A boot entry logged before it carried a root digest decodes as one
// without a root.
func TestBootWithoutRootDecodes(t *testing.T) {
	b := Boot{GuestDigest: [32]byte{1}, Argv: []string{"kvd"}, EpochInstructions: 200_000, Members: []consensus.NodeID{1}, MaxProcesses: 9}
	wire := Encode(b)
	got, err := Decode(wire[:len(wire)-rootDigestBytes])
	require.NoError(t, err)
	require.Equal(t, b, got)
}

// A boot entry logged before it carried a memory limit still decodes, as
// one without a limit.
func TestBootWithoutMemoryLimitDecodes(t *testing.T) {
	b := Boot{GuestDigest: [32]byte{1}, Argv: []string{"kvd"}, EpochInstructions: 200_000, Members: []consensus.NodeID{1}}
	wire := Encode(b)
	got, err := Decode(wire[:len(wire)-1-rootDigestBytes]) // a zero limit is one byte
	require.NoError(t, err)
	require.Equal(t, b, got)
}

func TestBootWithoutProcessLimitDecodes(t *testing.T) {
	b := Boot{GuestDigest: [32]byte{1}, Argv: []string{"kvd"}, EpochInstructions: 200_000, Members: []consensus.NodeID{1}, ConsoleInput: true}
	wire := Encode(b)
	got, err := Decode(wire[:len(wire)-1-rootDigestBytes]) // no process limit is a byte
	require.NoError(t, err)
	require.Equal(t, b, got)
}

func TestBootWithoutDisksDecodes(t *testing.T) {
	b := Boot{GuestDigest: [32]byte{1}, Argv: []string{"kvd"}, EpochInstructions: 200_000, Members: []consensus.NodeID{1}, MemoryLimit: 1 << 30}
	wire := Encode(b)
	got, err := Decode(wire[:len(wire)-3-rootDigestBytes]) // no disks, no console input and no process limit are a byte each
	require.NoError(t, err)
	require.Equal(t, b, got)
}

func TestDecodeRejects(t *testing.T) {
	valid := Encode(ConnData{Conn: ConnID{Node: 1, Serial: 2}, Data: []byte("abc")})
	tests := []struct {
		name string
		in   []byte
	}{
		{"empty", nil},
		{"unknown kind", []byte{0xee, 1, 2}},
		{"zero kind", []byte{0}},
		{"truncated", valid[:len(valid)-1]},
		{"trailing bytes", append(append([]byte{}, valid...), 0)},
		{"oversized data", append([]byte{byte(KindConnData), 1, 2}, 0xff, 0xff, 0xff, 0xff, 0x0f)},
		{"seal without fields", Encode(Seal{})[:1]},
		{"digest too short", []byte{byte(KindBoot), 1, 0}},
		{"seal inside inputs", Encode(Inputs{Entries: []Entry{Seal{Through: 1}}})},
		{"inputs inside inputs", Encode(Inputs{Entries: []Entry{Inputs{}}})},
		{"malformed input", append(Encode(Inputs{})[:2], 1, 1, 0xee)},
		{"too many inputs", append([]byte{byte(KindInputs), 0}, 0x81, 0x40)},
		{"too much client data", Encode(Inputs{Entries: []Entry{
			ConnData{Data: make([]byte, MaxDataLen)}, ConnData{Data: []byte{1}},
		}})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode(tt.in)
			require.ErrorIs(t, err, ErrMalformed)
		})
	}
}

func FuzzDecode(f *testing.F) {
	for _, e := range sampleEntries() {
		f.Add(Encode(e))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := Decode(b)
		if err != nil {
			return
		}
		// Whatever decodes must re-encode to something that decodes to
		// the same entry.
		again, err := Decode(Encode(e))
		require.NoError(t, err)
		require.Equal(t, normalize(e), normalize(again))
	})
}

func TestConnOf(t *testing.T) {
	conn := ConnID{Node: 2, Serial: 9}
	for _, e := range []Entry{ConnOpen{Conn: conn}, ConnData{Conn: conn}, ConnClose{Conn: conn}} {
		got, ok := ConnOf(e)
		require.True(t, ok, e.Kind().String())
		require.Equal(t, conn, got, e.Kind().String())
	}
	_, ok := ConnOf(Random{Node: 2})
	require.False(t, ok, "a random batch is about no connection")
}

// A proposer whose log bounds a proposal's size packs input batches by
// InputsHeader and InputOverhead: no batch may encode larger than they
// say, whatever its fields hold.
func TestInputsEncodedSizeBound(t *testing.T) {
	widest := ConnID{Node: consensus.NodeID(math.MaxUint64), Serial: math.MaxUint64}
	for _, in := range []Entry{
		ConnOpen{Conn: widest, Port: math.MaxUint16, PeerIP: [4]byte{255, 255, 255, 255}, PeerPort: math.MaxUint16},
		ConnData{Conn: widest, Offset: math.MaxUint64},
		ConnData{Conn: widest, Offset: math.MaxUint64, Data: make([]byte, MaxDataLen)},
		ConnClose{Conn: widest},
	} {
		count, data := MaxInputs, 0
		if d, ok := in.(ConnData); ok && len(d.Data) > 0 {
			count, data = 1, len(d.Data)
		}
		batch := Inputs{Time: math.MinInt64, Entries: slices.Repeat([]Entry{in}, count)}
		require.LessOrEqual(t, len(Encode(batch)), InputsHeader+count*(InputOverhead+data), "%d × %T", count, in)
	}
}

// An entry carrying DataThatFits(n) bytes of data, its other fields at
// their largest, encodes within n bytes: the console and disk
// completions size their entries by it for a log that bounds proposals.
func TestDataThatFitsALoneEntry(t *testing.T) {
	require.Zero(t, DataThatFits(0), "no bound")
	for _, maxProposal := range []int{InputOverhead + 1, 1000, 64<<10 - 32} {
		data := make([]byte, DataThatFits(maxProposal))
		for _, e := range []Entry{
			ConsoleIn{Node: math.MaxUint64, Offset: math.MaxUint64, Data: data, EOF: true},
			Completion{Node: math.MaxUint64, Seq: math.MaxUint64, Errno: 0xffff, N: math.MaxUint64, Data: data, From: math.MaxUint64, More: true},
		} {
			require.LessOrEqual(t, len(Encode(e)), maxProposal, "%T in %d bytes", e, maxProposal)
		}
	}
}

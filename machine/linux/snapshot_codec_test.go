package linux

import (
	"bytes"
	"io"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/synodvm/synod/machine"
	"github.com/synodvm/synod/machine/canon/canontest"
)

// filledGuestState is a guest state with every field, and every field of
// every element, non-zero, consistent enough for restore to take: its
// descriptors and its shared mapping name its files, and its second
// process runs in the memory of the first, its parent.
func filledGuestState() *guestState {
	var cpu machine.CPU
	cpu.SetPSW(^uint32(0))
	psw := cpu.PSW() // the bits a PSW keeps
	thread := func(tid uint32) threadState {
		t := threadState{
			TID: tid, QuantumLeft: 100, ClearTID: 0x4000, Comm: "worker", Pdeathsig: 9, NoNewPrivs: true,
			Mask: 1 << 10, Pending: []sigInfoState{{Signo: 10, Code: -6, PID: 7, UID: 8, Value: 9, Addr: 0x500, Fault: true}},
			SavedMask: 1 << 12, HasSavedMask: true, AltSP: 0x7000, AltSize: 0x2000, AltFlags: 1,
			Wait: &waitStateData{Kind: uint8(waitFutex), Deadline: 5e9, HasDeadline: true, FDs: []waitFDState{{FD: 3, Events: 1}},
				Random: true, Connecting: true, FutexAddr: 0x4010, FutexBitset: 0xff, Sigwait: 1 << 14, Remaining: 0x6000, Remaining64: true},
		}
		t.CPU = cpuState{IAOQFront: 0x10003, IAOQBack: 0x10007, PSW: psw, Instructions: 12345}
		for i := range t.CPU.GR {
			t.CPU.GR[i] = tid + uint32(i)
			t.CPU.CR[i] = 2 * uint32(i)
			t.CPU.FP[i] = uint64(i) << 40
		}
		for i := range t.CPU.SR {
			t.CPU.SR[i] = uint32(i) + 1
		}
		return t
	}
	pipeEnd := func(id uint32, kind fileKind) fileState {
		return fileState{
			ID: id, Kind: uint8(kind), Handle: 40 + id, PipeID: 1, Pipe: []byte("queued"), Readers: 1, Writers: 2,
			Flags: 0x800, Socket: true, Refs: 2,
			Dir: []DirEntry{{Ino: 77, Type: 8, Name: "motd"}}, DirRead: true, DirPos: 1,
			Interests: []epollInterestState{{FD: 3, FileID: 1, Events: 1, Data: 99, Disabled: true}},
			Counter:   5, Semaphore: true, Contents: []byte("maps"), Offset: 2,
		}
	}
	process := func(pid, ppid uint32, memory memoryKind, threads ...threadState) processState {
		s := processState{
			Config: configState{Argv: []string{"./kvd", "-p"}, Envp: []string{"HOME=/"}, ExePath: "/kvd", PID: pid, UID: 1,
				GID: 2, Hostname: "synod", Quantum: 50_000, MemoryLimit: 1 << 30, MaxProcesses: 9},
			PPID: ppid, PGID: 1000, SID: 1000, ExitSignal: 18, VforkParent: 1001, Memory: memory,
			Threads: threads, Cwd: "/srv", Brk: 0x60000, BrkStart: 0x50000,
			Shared: []sharedMappingState{{Addr: 0x40000000, Length: 2 * machine.PageSize, FileID: 2, Offset: 4096,
				Synced: [][32]byte{{1}, {2}}}},
			Umask: 0o22, Undumpable: true, Nice: -5,
			FDs:     []fdState{{FD: 3, FileID: 1, Cloexec: true}, {FD: 4, FileID: 2, Cloexec: true}},
			Pending: []sigInfoState{{Signo: 14, Code: 1, PID: 3, UID: 4, Value: 5, Addr: 6, Fault: true}},
			Futexes: []futexWaiterState{{Addr: 0x4010, TID: 1001, Bitset: 0xff}},
			Timer:   timerState{Armed: true, Deadline: 7e9, Interval: 1e9},
			Stopped: true, StopSignal: 24, Report: reportStopped, CPUTime: 5e9, ChildCPUTime: 6e9,
			Exit: &ExitStatus{Code: 3, Signal: 11, Core: true},
		}
		for sig := range numSignals {
			s.Actions = append(s.Actions, sigActionState{Handler: 0x10000 + uint32(sig), Flags: 4, Mask: 1 << sig})
		}
		return s
	}
	return &guestState{
		Instructions: 1 << 33, Current: 1, NextTID: 1003, NextFileID: 3, CwdMoved: true, InitialCwd: "/", EnvCwd: "/srv",
		Files: []fileState{pipeEnd(1, filePipeRead), pipeEnd(2, filePipeWrite)},
		Processes: []processState{
			process(1000, 1, memoryOwn, thread(1000), thread(1001)),
			process(1002, 1000, memoryBorrowed, thread(1002)),
		},
	}
}

var discardLog = slog.New(slog.NewTextHandler(io.Discard, nil))

// TestGuestStateRestoresEveryField: a state with every field set encodes
// and decodes to itself, and a guest restored from it has exactly that
// state. A field added to the state and not to the codec, restore() or
// state() fails here (and one not filled in filledGuestState too).
func TestGuestStateRestoresEveryField(t *testing.T) {
	s := filledGuestState()
	canontest.RoundTrip(t, s, codeGuestState)
	p, err := s.restore([]*machine.Memory{machine.NewMemory()}, nil, discardLog)
	require.NoError(t, err)
	require.Equal(t, s, p.k.state())
}

// The encoding is refused, with an error, when it is damaged anywhere:
// cut short, with a byte flipped (where the flip changes a number the
// decoding is merely different), or from another version.
func TestGuestStateRefusesDamage(t *testing.T) {
	enc := encodeGuestState(filledGuestState())
	for n := range len(enc) {
		_, err := decodeGuestState(enc[:n])
		require.Error(t, err, "cut at %d", n)
	}
	_, err := decodeGuestState(append(enc, 0))
	require.ErrorContains(t, err, "bytes after the value")
	other := bytes.Clone(enc)
	other[0] = 1
	_, err = decodeGuestState(other)
	require.ErrorContains(t, err, "version 1")
	for i := range enc {
		flipped := bytes.Clone(enc)
		flipped[i] ^= 0x80
		if s, err := decodeGuestState(flipped); err == nil {
			require.Equal(t, flipped, encodeGuestState(s), "one encoding per state")
		}
	}
}

// FuzzDecodeGuestState: decoding any bytes returns a state or an error,
// and never panics; a state decoded encodes to the bytes it came from, and
// restoring it returns a process or an error.
func FuzzDecodeGuestState(f *testing.F) {
	f.Add(encodeGuestState(filledGuestState()))
	f.Add(encodeGuestState(&guestState{}))
	f.Add([]byte{guestStateVersion})
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := decodeGuestState(b)
		if err != nil {
			return
		}
		require.Equal(t, b, encodeGuestState(s))
		_, _ = s.restore([]*machine.Memory{machine.NewMemory()}, nil, discardLog)
	})
}

package linux

import (
	"fmt"

	"github.com/synodvm/synod/machine/canon"
)

// The guest state's encoding (package canon): one function per state
// type codes its fields in both directions, in the order of the type's
// declaration.

// guestStateVersion leads the encoding, and changes with it. Version 1
// was encoding/gob's, whose bytes depended on what else the process had
// encoded before; version 2 held one process. Neither is read any more.
const guestStateVersion = 3

// stateSizeHint is about the encoding's size per thread (its registers
// are most of it), so that encoding seldom grows its buffer.
const stateSizeHint = 1024

func encodeGuestState(s *guestState) []byte {
	threads := 1
	for _, p := range s.Processes {
		threads += len(p.Threads)
	}
	c := canon.NewEncoder(make([]byte, 0, stateSizeHint*threads))
	codeGuestState(c, s)
	return c.Bytes()
}

func decodeGuestState(b []byte) (*guestState, error) {
	var s guestState
	c := canon.NewDecoder(b)
	codeGuestState(c, &s)
	if err := c.Finish(); err != nil {
		return nil, fmt.Errorf("decode guest state: %w", err)
	}
	return &s, nil
}

func codeGuestState(c *canon.Codec, s *guestState) {
	version := uint8(guestStateVersion)
	canon.Uint8(c, &version)
	if version != guestStateVersion {
		c.Fail("guest state version %d, not %d", version, guestStateVersion)
		return
	}
	canon.Uint64(c, &s.Instructions)
	canon.Int(c, &s.Current)
	canon.Uint32(c, &s.NextTID)
	canon.Uint32(c, &s.NextFileID)
	canon.Bool(c, &s.CwdMoved)
	canon.String(c, &s.InitialCwd)
	canon.String(c, &s.EnvCwd)
	canon.Slice(c, &s.Files, codeFileState)
	canon.Slice(c, &s.Processes, codeProcessState)
}

func codeProcessState(c *canon.Codec, s *processState) {
	codeConfigState(c, &s.Config)
	canon.Uint32(c, &s.PPID)
	canon.Uint32(c, &s.PGID)
	canon.Uint32(c, &s.SID)
	canon.Int32(c, &s.ExitSignal)
	canon.Uint32(c, &s.VforkParent)
	canon.Uint8(c, (*uint8)(&s.Memory))
	canon.Slice(c, &s.Threads, codeThreadState)
	canon.String(c, &s.Cwd)
	canon.Uint32(c, &s.Brk)
	canon.Uint32(c, &s.BrkStart)
	canon.Slice(c, &s.Shared, codeSharedMappingState)
	canon.Uint32(c, &s.Umask)
	canon.Bool(c, &s.Undumpable)
	canon.Int32(c, &s.Nice)
	canon.Slice(c, &s.FDs, codeFDState)
	canon.Slice(c, &s.Actions, codeSigActionState)
	canon.Slice(c, &s.Pending, codeSigInfoState)
	canon.Slice(c, &s.Futexes, codeFutexWaiterState)
	codeTimerState(c, &s.Timer)
	canon.Bool(c, &s.Stopped)
	canon.Int32(c, &s.StopSignal)
	canon.Uint8(c, &s.Report)
	canon.Uint64(c, &s.CPUTime)
	canon.Uint64(c, &s.ChildCPUTime)
	canon.Optional(c, &s.Exit, codeExitStatus)
}

func codeConfigState(c *canon.Codec, s *configState) {
	canon.Slice(c, &s.Argv, canon.String)
	canon.Slice(c, &s.Envp, canon.String)
	canon.String(c, &s.ExePath)
	canon.Uint32(c, &s.PID)
	canon.Uint32(c, &s.UID)
	canon.Uint32(c, &s.GID)
	canon.String(c, &s.Hostname)
	canon.Uint64(c, &s.Quantum)
	canon.Uint64(c, &s.MemoryLimit)
	canon.Uint32(c, &s.MaxProcesses)
}

func codeCPUState(c *canon.Codec, s *cpuState) {
	for _, regs := range [][]uint32{s.GR[:], s.SR[:], s.CR[:]} {
		for i := range regs {
			canon.Uint32(c, &regs[i])
		}
	}
	canon.Uint32(c, &s.IAOQFront)
	canon.Uint32(c, &s.IAOQBack)
	canon.Uint32(c, &s.PSW)
	for i := range s.FP {
		canon.Uint64(c, &s.FP[i])
	}
	canon.Uint64(c, &s.Instructions)
}

func codeThreadState(c *canon.Codec, s *threadState) {
	canon.Uint32(c, &s.TID)
	codeCPUState(c, &s.CPU)
	canon.Uint64(c, &s.QuantumLeft)
	canon.Uint32(c, &s.ClearTID)
	canon.String(c, &s.Comm)
	canon.Uint32(c, &s.Pdeathsig)
	canon.Bool(c, &s.NoNewPrivs)
	canon.Uint64(c, &s.Mask)
	canon.Slice(c, &s.Pending, codeSigInfoState)
	canon.Uint64(c, &s.SavedMask)
	canon.Bool(c, &s.HasSavedMask)
	canon.Uint32(c, &s.AltSP)
	canon.Uint32(c, &s.AltSize)
	canon.Uint32(c, &s.AltFlags)
	canon.Optional(c, &s.Wait, codeWaitStateData)
}

func codeWaitStateData(c *canon.Codec, s *waitStateData) {
	canon.Uint8(c, &s.Kind)
	canon.Int64(c, &s.Deadline)
	canon.Bool(c, &s.HasDeadline)
	canon.Slice(c, &s.FDs, codeWaitFDState)
	canon.Bool(c, &s.Random)
	canon.Bool(c, &s.Connecting)
	canon.Uint32(c, &s.FutexAddr)
	canon.Uint32(c, &s.FutexBitset)
	canon.Uint64(c, &s.Sigwait)
	canon.Uint32(c, &s.Remaining)
	canon.Bool(c, &s.Remaining64)
}

func codeWaitFDState(c *canon.Codec, s *waitFDState) {
	canon.Int32(c, &s.FD)
	canon.Uint16(c, &s.Events)
}

func codeFileState(c *canon.Codec, s *fileState) {
	canon.Uint32(c, &s.ID)
	canon.Uint8(c, &s.Kind)
	canon.Uint32(c, &s.Handle)
	canon.Uint32(c, &s.PipeID)
	canon.Bytes(c, &s.Pipe)
	canon.Int(c, &s.Readers)
	canon.Int(c, &s.Writers)
	canon.Uint32(c, &s.Flags)
	canon.Bool(c, &s.Socket)
	canon.Int(c, &s.Refs)
	canon.Slice(c, &s.Dir, codeDirEntry)
	canon.Bool(c, &s.DirRead)
	canon.Int(c, &s.DirPos)
	canon.Slice(c, &s.Interests, codeEpollInterestState)
	canon.Uint64(c, &s.Counter)
	canon.Bool(c, &s.Semaphore)
	canon.Bytes(c, &s.Contents)
	canon.Int64(c, &s.Offset)
}

func codeDirEntry(c *canon.Codec, e *DirEntry) {
	canon.Uint64(c, &e.Ino)
	canon.Uint8(c, &e.Type)
	canon.String(c, &e.Name)
}

func codeEpollInterestState(c *canon.Codec, s *epollInterestState) {
	canon.Int32(c, &s.FD)
	canon.Uint32(c, &s.FileID)
	canon.Uint32(c, &s.Events)
	canon.Uint64(c, &s.Data)
	canon.Bool(c, &s.Disabled)
}

func codeFDState(c *canon.Codec, s *fdState) {
	canon.Int32(c, &s.FD)
	canon.Uint32(c, &s.FileID)
	canon.Bool(c, &s.Cloexec)
}

func codeSigActionState(c *canon.Codec, s *sigActionState) {
	canon.Uint32(c, &s.Handler)
	canon.Uint32(c, &s.Flags)
	canon.Uint64(c, &s.Mask)
}

func codeSigInfoState(c *canon.Codec, s *sigInfoState) {
	canon.Int32(c, &s.Signo)
	canon.Int32(c, &s.Code)
	canon.Uint32(c, &s.PID)
	canon.Uint32(c, &s.UID)
	canon.Uint32(c, &s.Value)
	canon.Uint32(c, &s.Addr)
	canon.Bool(c, &s.Fault)
}

func codeTimerState(c *canon.Codec, s *timerState) {
	canon.Bool(c, &s.Armed)
	canon.Int64(c, &s.Deadline)
	canon.Int64(c, &s.Interval)
}

func codeFutexWaiterState(c *canon.Codec, s *futexWaiterState) {
	canon.Uint32(c, &s.Addr)
	canon.Uint32(c, &s.TID)
	canon.Uint32(c, &s.Bitset)
}

func codeSharedMappingState(c *canon.Codec, s *sharedMappingState) {
	canon.Uint32(c, &s.Addr)
	canon.Uint32(c, &s.Length)
	canon.Uint32(c, &s.FileID)
	canon.Int64(c, &s.Offset)
	canon.Slice(c, &s.Synced, codeSum)
}

func codeSum(c *canon.Codec, sum *[32]byte) { canon.Fixed(c, sum[:]) }

func codeExitStatus(c *canon.Codec, e *ExitStatus) {
	canon.Int(c, &e.Code)
	canon.Int(c, &e.Signal)
	canon.Bool(c, &e.Core)
}

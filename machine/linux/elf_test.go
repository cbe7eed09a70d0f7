package linux_test

import (
	"encoding/binary"
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/synodvm/synod/machine/linux"
	"github.com/synodvm/synod/machine/linux/memenv"
)

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	require.NoError(t, err)
	return b
}

// patched returns a copy of bin with a big-endian field overwritten.
func patched(bin []byte, off int, v uint32, size int) []byte {
	out := append([]byte(nil), bin...)
	switch size {
	case 2:
		binary.BigEndian.PutUint16(out[off:], uint16(v))
	case 4:
		binary.BigEndian.PutUint32(out[off:], v)
	}
	return out
}

func TestLoadRefusesWhatItCannotRun(t *testing.T) {
	static := readTestdata(t, "startregs")
	const eType, eMachine, eEntry, ePhoff = 16, 18, 24, 28
	const firstVaddr, firstFilesz = 0x34 + 8, 0x34 + 16 // in the first program header
	cases := []struct {
		name   string
		binary []byte
		want   string
	}{
		{"empty", nil, "not an ELF executable"},
		{"garbage", []byte("#!/bin/sh\necho hello\n"), "not an ELF executable"},
		{"truncated header", static[:40], "not an ELF executable"},
		{"truncated in the middle", static[:len(static)/2], "not an ELF executable"},
		{"segment past the end of the file", patched(static, firstFilesz, 0x7fffffff, 4), "does not fit"},
		{"segment in the stack", patched(static, firstVaddr, 0xfa000000, 4), "does not fit"},
		{"dynamic", readTestdata(t, "dynamic"), "dynamically linked"},
		{"shared object", patched(static, eType, 3, 2), "only static executables"},
		{"other machine", patched(static, eMachine, 62, 2), "not a 32-bit big-endian PA-RISC"},
		{"entry in page zero", patched(static, eEntry, 0x10, 4), "entry point"},
		{"entry outside code", patched(static, eEntry, 0x7000000, 4), "entry point"},
		{"program headers past the end", patched(static, ePhoff, 0xfffff0, 4), "not an ELF executable"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := linux.Load(c.binary, linux.Config{Argv: []string{"x"}}, memenv.New(1))
			require.ErrorContains(t, err, c.want)
			require.ErrorContains(t, linux.CheckExecutable(c.binary), c.want, "checked before loading")
		})
	}
	require.NoError(t, linux.CheckExecutable(static))
}

func TestLoadRefusesHugeArguments(t *testing.T) {
	huge := make([]byte, 9<<20)
	for i := range huge {
		huge[i] = 'x'
	}
	_, err := linux.Load(readTestdata(t, "startregs"), linux.Config{Argv: []string{"x", string(huge)}}, memenv.New(1))
	require.ErrorContains(t, err, "exceed")
}

// FuzzLoad feeds mutated executables to the loader: it must answer with a
// process or an error, never panic or hang.
func FuzzLoad(f *testing.F) {
	f.Add(readTestdata(f, "startregs"))
	f.Add(readTestdata(f, "dynamic"))
	f.Fuzz(func(t *testing.T, bin []byte) {
		p, err := linux.Load(bin, linux.Config{Argv: []string{"fuzz"}}, memenv.New(1))
		if err == nil && p == nil {
			t.Fatal("Load returned neither a process nor an error")
		}
	})
}

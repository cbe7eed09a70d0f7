//go:build linux && amd64

package jit

import (
	"encoding/binary"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestEnterRunsWrittenCode enters code that adds the two words of its
// state, stores the sum in the first and returns it.
func TestEnterRunsWrittenCode(t *testing.T) {
	arena, err := NewArena(1 << 16)
	require.NoError(t, err)
	defer arena.Close()
	data, err := NewData(4096)
	require.NoError(t, err)
	defer data.Close()

	var a Asm
	a.Load32(RAX, At(RDI, 0))
	a.ALUMem32(ADD, RAX, At(RDI, 4))
	a.Store32(At(RDI, 0), RAX)
	a.Ret()
	code, err := a.Finish()
	require.NoError(t, err)
	entry, err := arena.Write(code)
	require.NoError(t, err)

	state := data.Bytes()
	binary.LittleEndian.PutUint32(state[0:], 40)
	binary.LittleEndian.PutUint32(state[4:], 2)
	assert.Equal(t, uint32(42), Enter(entry, data.Addr()))
	assert.Equal(t, uint32(42), binary.LittleEndian.Uint32(state[0:]))
	assert.Equal(t, uint32(44), Enter(entry, data.Addr()), "the state persists between entries")
}

func TestArenaRefusesWhatDoesNotFit(t *testing.T) {
	arena, err := NewArena(4096)
	require.NoError(t, err)
	defer arena.Close()
	_, err = arena.Write(make([]byte, 4097))
	assert.Error(t, err)
}

// TestArenaHasNoWritableExecutableMapping checks W^X: the process's
// mappings of the arena are either writable or executable.
func TestArenaHasNoWritableExecutableMapping(t *testing.T) {
	arena, err := NewArena(1 << 16)
	require.NoError(t, err)
	defer arena.Close()
	maps, err := os.ReadFile("/proc/self/maps")
	require.NoError(t, err)
	var views int
	for _, line := range strings.Split(string(maps), "\n") {
		if !strings.Contains(line, "synod-code") {
			continue
		}
		views++
		perms := strings.Fields(line)[1]
		assert.False(t, strings.Contains(perms, "w") && strings.Contains(perms, "x"), "mapping %q", line)
	}
	assert.GreaterOrEqual(t, views, 2, "a writable and an executable view")
}

// TestPatchJump enters code whose first jump is patched from the next
// instruction (return 1) to a later one (return 2).
func TestPatchJump(t *testing.T) {
	arena, err := NewArena(1 << 16)
	require.NoError(t, err)
	defer arena.Close()
	var a Asm
	site := a.JmpNext()
	a.MovImm32(RAX, 1)
	a.Ret()
	second := a.Len()
	a.MovImm32(RAX, 2)
	a.Ret()
	code, err := a.Finish()
	require.NoError(t, err)
	entry, err := arena.Write(code)
	require.NoError(t, err)
	assert.Equal(t, uint32(1), Enter(entry, 0))
	arena.PatchJump(entry+uintptr(site), entry+uintptr(second))
	assert.Equal(t, uint32(2), Enter(entry, 0))
}

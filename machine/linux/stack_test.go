package linux_test

import (
	"encoding/binary"
	"encoding/hex"
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/synodvm/synod/machine/linux"
	"github.com/synodvm/synod/machine/linux/memenv"
)

// startregsConfig is how testdata/startregs.golden was made:
// env -i A=1 HOME=/ qemu-hppa ./startregs a bb ccc
// (qemu-hppa hands the guest its environment in reverse order).
var startregsConfig = linux.Config{
	Argv:    []string{"./startregs", "a", "bb", "ccc"},
	Envp:    []string{"HOME=/", "A=1"},
	ExePath: "/guest/startregs",
}

func loadTestdata(t *testing.T, name string, cfg linux.Config) (*linux.Process, *memenv.Env) {
	t.Helper()
	bin, err := os.ReadFile("testdata/" + name)
	require.NoError(t, err)
	env := memenv.New(1)
	p, err := linux.Load(bin, cfg, env)
	require.NoError(t, err)
	return p, env
}

// maskRandom zeroes the 16 AT_RANDOM bytes in a dump of the stack that
// starts at base, finding them through the auxiliary vector.
func maskRandom(t *testing.T, stack []byte, base uint32) {
	t.Helper()
	for off := 0; off+8 <= len(stack); off += 4 {
		if binary.BigEndian.Uint32(stack[off:]) == 25 { // AT_RANDOM
			ptr := binary.BigEndian.Uint32(stack[off+4:])
			if ptr >= base && ptr+16 <= base+uint32(len(stack)) {
				clear(stack[ptr-base : ptr-base+16])
				return
			}
		}
	}
	t.Fatal("no AT_RANDOM entry in the stack dump")
}

// TestEntryStateMatchesQemu compares the registers and initial stack after
// Load with what the startregs probe printed under qemu-hppa: the same
// bytes, except for the random AT_RANDOM bytes.
func TestEntryStateMatchesQemu(t *testing.T) {
	golden, err := os.ReadFile("testdata/startregs.golden")
	require.NoError(t, err)
	p, _ := loadTestdata(t, "startregs", startregsConfig)
	cpu := linux.MainCPU(p)

	regs := make([]byte, 168)
	for i := 2; i < 32; i++ {
		binary.BigEndian.PutUint32(regs[4*i:], cpu.GR[i])
	}
	binary.BigEndian.PutUint32(regs[128:], cpu.CR[27])
	binary.BigEndian.PutUint32(regs[132:], cpu.CR[11])
	for i := range 8 {
		binary.BigEndian.PutUint32(regs[136+4*i:], cpu.SR[i])
	}
	require.Equal(t, hex.Dump(golden[:168]), hex.Dump(regs), "registers at entry")
	require.Equal(t, uint32(0x100b8|3), cpu.IAOQFront, "IAOQ front at entry")

	sp := cpu.GR[30]
	stack := make([]byte, 2112)
	require.NoError(t, p.Memory().ReadBytes(sp-2048, stack))
	want := append([]byte(nil), golden[168:]...)
	maskRandom(t, stack, sp-2048)
	maskRandom(t, want, sp-2048)
	require.Equal(t, hex.Dump(want), hex.Dump(stack), "initial stack")
}

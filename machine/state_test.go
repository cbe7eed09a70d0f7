package machine

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestStateRoundTripContinuesIdentically(t *testing.T) {
	// Run the kernel part way, snapshot, and check that the restored
	// machine finishes exactly like the original.
	orig := newKernelCPU(t, 3)
	require.Equal(t, StopBudget, orig.Run(12345).Reason)

	cpuState := orig.AppendState(nil)
	memState := orig.Mem.AppendState(nil)
	mem, rest, err := RestoreMemory(memState)
	require.NoError(t, err)
	require.Empty(t, rest)
	copyCPU := &CPU{Mem: mem}
	rest, err = copyCPU.RestoreState(cpuState)
	require.NoError(t, err)
	require.Empty(t, rest)
	require.Equal(t, orig.Hash(), copyCPU.Hash())
	require.Equal(t, orig.Mem.Hash(), mem.Hash())

	want := runKernel(t, orig)
	got := runKernel(t, copyCPU)
	assert.Equal(t, want, got)
	assert.Equal(t, orig.Instructions, copyCPU.Instructions)
	assert.Equal(t, orig.Hash(), copyCPU.Hash())
	assert.Equal(t, orig.Mem.Hash(), mem.Hash())
}

func TestStateHashSeesEveryPart(t *testing.T) {
	base := newKernelCPU(t, 1)
	h, mh := base.Hash(), base.Mem.Hash()
	for name, change := range map[string]func(c *CPU){
		"gr":           func(c *CPU) { c.GR[7]++ },
		"sr":           func(c *CPU) { c.SR[3]++ },
		"cr":           func(c *CPU) { c.CR[27]++ },
		"iaoq":         func(c *CPU) { c.IAOQBack += 4 },
		"nullify":      func(c *CPU) { c.nullify = true },
		"carry":        func(c *CPU) { c.carryOut = 1 },
		"fp":           func(c *CPU) { c.FP.R[31] = 1 },
		"instructions": func(c *CPU) { c.Instructions++ },
	} {
		c := *base
		change(&c)
		assert.NotEqual(t, h, c.Hash(), name)
	}
	require.NoError(t, base.Mem.StoreWord(dataBase+8, 1))
	assert.NotEqual(t, mh, base.Mem.Hash(), "memory contents")
	mh = base.Mem.Hash()
	require.NoError(t, base.Mem.Protect(dataBase, PageSize, ProtRead))
	assert.NotEqual(t, mh, base.Mem.Hash(), "page rights")
}

func TestRestoreRejectsBadState(t *testing.T) {
	c := newKernelCPU(t, 1)
	cpuState := c.AppendState(nil)
	memState := c.Mem.AppendState(nil)
	for _, n := range []int{0, 1, len(cpuState) - 1} {
		_, err := new(CPU).RestoreState(cpuState[:n])
		assert.Error(t, err, "cpu state cut at %d", n)
	}
	for _, n := range []int{0, 4, 5, 10, len(memState) - 1} {
		_, _, err := RestoreMemory(memState[:n])
		assert.Error(t, err, "memory state cut at %d", n)
	}
	bad := append([]byte(nil), memState...)
	bad[0] = 99
	_, _, err := RestoreMemory(bad)
	assert.Error(t, err)
}

func FuzzRestoreMemory(f *testing.F) {
	mem := NewMemory()
	if err := mem.Map(dataBase, 2*PageSize, ProtRead|ProtWrite); err != nil {
		f.Fatal(err)
	}
	if err := mem.StoreWord(dataBase, 7); err != nil {
		f.Fatal(err)
	}
	f.Add(mem.AppendState(nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, _, err := RestoreMemory(b)
		if err == nil {
			_ = m.Hash()
		}
	})
}

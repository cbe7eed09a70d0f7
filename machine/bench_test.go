package machine

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The benchmark guest is testdata/bench/kernel.c (CRC-32, insertion sort,
// matrix multiply and string hashing), compiled by go generate into
// kernel.words. kernel(buf, rounds) runs with buf in the data pages and
// returns to a page of zero words, where `break 0,0` stops the CPU.

const (
	benchSource = "testdata/bench/kernel.c"
	benchWords  = "testdata/bench/kernel.words"
	returnPage  = 0x70000
)

func newKernelCPU(t testing.TB, rounds uint32) *CPU {
	t.Helper()
	images, err := readWords(benchWords)
	require.NoError(t, err)
	c := newTestCPU(t, images["kernel"])
	require.NoError(t, c.Mem.Map(returnPage, PageSize, ProtRead|ProtExec))
	c.GR[2] = returnPage | 3
	c.GR[26] = dataBase
	c.GR[25] = rounds
	return c
}

// runKernel runs the kernel to its return and gives its result.
func runKernel(t testing.TB, c *CPU) uint32 {
	t.Helper()
	for range 1000 {
		stop := c.Run(10_000_000)
		if stop.Reason == StopBudget {
			continue
		}
		require.Equal(t, StopBreak, stop.Reason, "kernel stopped at %#x (word %#08x)", stop.PC, stop.Word)
		require.Equal(t, uint32(returnPage), stop.PC&^3)
		return c.GR[28]
	}
	t.Fatal("the kernel does not return")
	return 0
}

// kernelInGo is kernel.c written in Go: the reference result.
func kernelInGo(rounds int) uint32 {
	var buf [256]int32
	bytes := func() []byte {
		b := make([]byte, 0, 1024)
		for _, v := range buf {
			b = append(b, byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
		}
		return b
	}
	var acc, seed uint32 = 0, 12345
	for range rounds {
		for i := range 256 {
			seed = seed*1103515245 + 12345
			buf[i] = int32(seed >> 4)
		}
		c := ^uint32(0)
		for _, b := range bytes()[:256] {
			c ^= uint32(b)
			for range 8 {
				c = c>>1 ^ 0xEDB88320&-(c&1)
			}
		}
		acc ^= ^c
		for i := 1; i < 64; i++ {
			x, j := buf[i], i-1
			for j >= 0 && buf[j] > x {
				buf[j+1] = buf[j]
				j--
			}
			buf[j+1] = x
		}
		var s uint32
		for i := range 8 {
			for j := range 8 {
				var t int32
				for k := range 8 {
					t += buf[i*8+k] * buf[64+k*8+j]
				}
				buf[128+i*8+j] = t
				s += uint32(t)
			}
		}
		acc += s
		b := bytes()
		b[1000] = 0
		h := uint32(2166136261)
		for _, ch := range b[900:] {
			if ch == 0 {
				break
			}
			h = (h ^ uint32(ch)) * 16777619
		}
		acc ^= h
		buf[250] = int32(uint32(buf[250]) &^ 0xff000000) // b[1000] = 0
	}
	return acc
}

func TestKernelMatchesGo(t *testing.T) {
	for _, engine := range []Engine{EngineInterp, EngineJIT} {
		t.Run(engine.String(), func(t *testing.T) {
			c := newKernelCPU(t, 3)
			c.Engine = engine
			require.Equal(t, kernelInGo(3), runKernel(t, c))
		})
	}
}

// BenchmarkKernel reports guest MIPS of each engine:
//
//	go test -run ^$ -bench Kernel ./machine
func BenchmarkKernel(b *testing.B) {
	for _, engine := range []Engine{EngineInterp, EngineJIT} {
		b.Run(engine.String(), func(b *testing.B) {
			var insns uint64
			var elapsed time.Duration
			for b.Loop() {
				c := newKernelCPU(b, 200)
				c.Engine = engine
				start := time.Now()
				runKernel(b, c)
				elapsed += time.Since(start)
				insns += c.Instructions
			}
			b.ReportMetric(float64(insns)/elapsed.Seconds()/1e6, "MIPS")
		})
	}
}

package machine

import (
	"encoding/binary"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// FuzzExecute runs arbitrary words as code (in a writable page, so
// self-modification is exercised too) with registers taken from the
// input. Whatever the words, the CPU must stop cleanly or spend its
// budget, and every word must disassemble: no panics. A second CPU runs
// the same words traced, that is with the handlers alone, and must stop
// at the same places in the same states.
//
//	go test -run ^$ -fuzz FuzzExecute ./machine
func FuzzExecute(f *testing.F) {
	paths, _ := filepath.Glob("testdata/insn/*.words")
	paths = append(paths, benchWords)
	for _, path := range paths {
		images, err := readWords(path)
		if err != nil {
			f.Fatal(err)
		}
		for _, img := range images {
			f.Add(wordsToBytes(img.words[:min(len(img.words), 256)]))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 4 {
			return
		}
		words := make([]uint32, 0, len(data)/4)
		for i := 0; i+4 <= len(data) && len(words) < wordsPerPage; i += 4 {
			words = append(words, binary.BigEndian.Uint32(data[i:]))
		}
		for _, w := range words {
			_ = Disassemble(codeBase, w)
		}
		c, traced := newFuzzCPU(t, words), newFuzzCPU(t, words)
		traced.Trace = func(pc, word uint32, nullified bool) {}
		for range 64 {
			stop := c.Run(500)
			require.Equal(t, stop, traced.Run(500))
			require.Equal(t, c.Hash(), traced.Hash())
			require.Equal(t, c.Mem.Hash(), traced.Mem.Hash())
			switch stop.Reason {
			case StopBudget:
				return
			case StopGateway, StopFault:
				// Resume somewhere valid: the start of the code.
				for _, c := range []*CPU{c, traced} {
					c.IAOQFront, c.IAOQBack = codeBase|3, codeBase+4|3
				}
			default:
				// Step over the instruction, as a signal handler might.
				for _, c := range []*CPU{c, traced} {
					c.IAOQFront, c.IAOQBack = c.IAOQBack, c.IAOQBack+4
				}
			}
		}
	})
}

// newFuzzCPU maps words as code and two data pages, with registers
// pointing into the code and data pages or holding words from the input.
func newFuzzCPU(t *testing.T, words []uint32) *CPU {
	c := newWordsCPU(t, ProtRead|ProtWrite|ProtExec, words...)
	require.NoError(t, c.Mem.Map(dataBase, 2*PageSize, ProtRead|ProtWrite))
	for i := range c.GR {
		c.GR[i] = words[i%len(words)]
		if i%3 == 0 {
			c.GR[i] = dataBase + words[i%len(words)]&0x1ffc
		}
	}
	c.GR[0] = 0
	c.CR[crSAR] = words[0] & 31
	return c
}

func wordsToBytes(words []uint32) []byte {
	b := make([]byte, 4*len(words))
	for i, w := range words {
		binary.BigEndian.PutUint32(b[4*i:], w)
	}
	return b
}

package machine

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Instruction-level tests are scripts in testdata/insn/*.txt. A case is
//
//	case <name>
//	init r3=5 sar=3 psw=0x... fr4=0x...   initial state (repeatable)
//	mem <addr> <word> <word>...          initial words in the data pages
//	run <budget>                          stop after budget instructions
//	asm
//	<assembly, entry at _start, linked at 0x10000>
//	end
//	want stop=break pc=+0x8 r3=7 n=1 cb=0x80 mem:0x40000=5 insns=4
//
// State names: r0-r31, sr0-sr7, cr0-cr31, sar, fr0-fr31 (64-bit),
// fr0L-fr31R (halves), psw, n (PSW[N]), v (PSW[V]), cb (the eight carry
// bits, nibble 7 at the top), front and back (the IAOQ, privilege bits
// included).
//
// The code runs with two data pages at dataBase and a stack page, until a
// stop (default budget: maxScriptSteps). Expectations name a register, a
// PSW part, a word of memory, or a property of the stop; pc is the stop
// address, relative to the code with a + sign.

const (
	dataBase       = 0x40000
	stackBase      = 0x80000
	maxScriptSteps = 100_000
)

type scriptCase struct {
	name   string
	line   int
	init   []string
	mem    [][]string
	budget uint64
	asm    string
	want   []string
}

func parseScript(path string) ([]scriptCase, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var cases []scriptCase
	var cur *scriptCase
	inAsm := false
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		text := sc.Text()
		if inAsm {
			if strings.TrimSpace(text) == "end" {
				inAsm = false
			} else {
				cur.asm += text + "\n"
			}
			continue
		}
		fields := strings.Fields(text)
		if len(fields) == 0 || strings.HasPrefix(fields[0], "#") {
			continue
		}
		if fields[0] != "case" && cur == nil {
			return nil, fmt.Errorf("%s:%d: %q before the first case", path, line, fields[0])
		}
		switch fields[0] {
		case "case":
			if len(fields) != 2 {
				return nil, fmt.Errorf("%s:%d: case takes one name", path, line)
			}
			cases = append(cases, scriptCase{name: fields[1], line: line, budget: maxScriptSteps})
			cur = &cases[len(cases)-1]
		case "init":
			cur.init = append(cur.init, fields[1:]...)
		case "mem":
			cur.mem = append(cur.mem, fields[1:])
		case "run":
			n, err := strconv.ParseUint(fields[1], 0, 64)
			if err != nil {
				return nil, fmt.Errorf("%s:%d: %v", path, line, err)
			}
			cur.budget = n
		case "asm":
			inAsm = true
		case "want":
			cur.want = append(cur.want, fields[1:]...)
		default:
			return nil, fmt.Errorf("%s:%d: unknown directive %q", path, line, fields[0])
		}
	}
	return cases, sc.Err()
}

var stopNames = map[string]StopReason{
	"budget": StopBudget, "gateway": StopGateway, "break": StopBreak, "illegal": StopIllegal,
	"privileged": StopPrivileged, "privileged-register": StopPrivilegedRegister, "fault": StopFault,
	"unaligned": StopUnaligned, "trap": StopTrap, "fpe": StopFPE,
}

// newTestCPU maps img, the data pages and the stack, and points the CPU
// at the entry.
func newTestCPU(t testing.TB, img image) *CPU {
	t.Helper()
	mem := NewMemory()
	size := (uint32(len(img.words))*4 + pageMask) &^ pageMask
	require.NoError(t, mem.Map(img.base, size, ProtRead|ProtWrite))
	for i, w := range img.words {
		require.NoError(t, mem.StoreWord(img.base+uint32(i)*4, w))
	}
	require.NoError(t, mem.Protect(img.base, size, ProtRead|ProtExec))
	require.NoError(t, mem.Map(dataBase, 2*PageSize, ProtRead|ProtWrite))
	require.NoError(t, mem.Map(stackBase, PageSize, ProtRead|ProtWrite))
	c := &CPU{Mem: mem}
	c.IAOQFront, c.IAOQBack = img.entry|3, img.entry+4|3
	c.GR[30] = stackBase + 0x100
	return c
}

// num parses a script number: decimal (possibly negative) or 0x hex.
func num(s string) (uint64, error) {
	if strings.HasPrefix(s, "-") {
		v, err := strconv.ParseInt(s, 0, 64)
		return uint64(v), err
	}
	return strconv.ParseUint(s, 0, 64)
}

// access returns a pointer-like getter/setter for a named piece of state.
func stateItem(c *CPU, name string) (get func() uint64, set func(uint64), ok bool) {
	reg := func(prefix string, n int) (int, bool) {
		i, err := strconv.Atoi(strings.TrimPrefix(name, prefix))
		return i, strings.HasPrefix(name, prefix) && err == nil && i >= 0 && i < n
	}
	switch {
	case name == "front":
		return func() uint64 { return uint64(c.IAOQFront) }, func(v uint64) { c.IAOQFront = uint32(v) }, true
	case name == "back":
		return func() uint64 { return uint64(c.IAOQBack) }, func(v uint64) { c.IAOQBack = uint32(v) }, true
	case name == "sar":
		return func() uint64 { return uint64(c.CR[crSAR]) }, func(v uint64) { c.CR[crSAR] = uint32(v) }, true
	case name == "psw":
		return func() uint64 { return uint64(c.PSW()) }, func(v uint64) { c.SetPSW(uint32(v)) }, true
	case name == "n":
		return func() uint64 { return uint64(b2u(c.nullify)) }, func(v uint64) { c.nullify = v != 0 }, true
	case name == "v":
		return func() uint64 { return uint64(b2u(c.divStep)) }, func(v uint64) { c.divStep = v != 0 }, true
	case name == "cb":
		return func() uint64 { return uint64(c.PSW() >> pswCarryBits & 0xff) },
			func(v uint64) { c.SetPSW(c.PSW()&^(0xff<<pswCarryBits) | uint32(v)<<pswCarryBits) }, true
	case strings.HasPrefix(name, "fr") && (strings.HasSuffix(name, "L") || strings.HasSuffix(name, "R")):
		i, err := strconv.Atoi(name[2 : len(name)-1])
		if err != nil || i < 0 || i > 31 {
			return nil, nil, false
		}
		r := uint8(i)
		if strings.HasSuffix(name, "R") {
			r |= 32
		}
		return func() uint64 { return uint64(c.fpWord(r)) }, func(v uint64) { c.setFPWord(r, uint32(v)) }, true
	}
	if i, ok := reg("fr", 32); ok {
		return func() uint64 { return c.FP.R[i] }, func(v uint64) { c.FP.R[i] = v }, true
	}
	if i, ok := reg("sr", 8); ok {
		return func() uint64 { return uint64(c.SR[i]) }, func(v uint64) { c.SR[i] = uint32(v) }, true
	}
	if i, ok := reg("cr", 32); ok {
		return func() uint64 { return uint64(c.CR[i]) }, func(v uint64) { c.CR[i] = uint32(v) }, true
	}
	if i, ok := reg("r", 32); ok {
		return func() uint64 { return uint64(c.GR[i]) }, func(v uint64) { c.GR[i] = uint32(v) }, true
	}
	return nil, nil, false
}

func splitAssign(s string) (string, string, error) {
	k, v, ok := strings.Cut(s, "=")
	if !ok {
		return "", "", fmt.Errorf("%q is not name=value", s)
	}
	return k, v, nil
}

// runScriptCase runs a case with engine; traced runs it with a Trace
// hook instead, which makes Run use only the handlers, never runInline.
func runScriptCase(t *testing.T, tc scriptCase, img image, engine Engine, traced bool) {
	c := newTestCPU(t, img)
	c.Engine = engine
	if traced {
		c.Trace = func(pc, word uint32, nullified bool) {}
	}
	for _, item := range tc.init {
		k, v, err := splitAssign(item)
		require.NoError(t, err)
		_, set, ok := stateItem(c, k)
		require.True(t, ok, "unknown state %q", k)
		n, err := num(v)
		require.NoError(t, err)
		set(n)
	}
	for _, m := range tc.mem {
		addr, err := num(m[0])
		require.NoError(t, err)
		for i, ws := range m[1:] {
			w, err := num(ws)
			require.NoError(t, err)
			require.NoError(t, c.Mem.StoreWord(uint32(addr)+uint32(i)*4, uint32(w)))
		}
	}
	stop := c.Run(tc.budget)
	for _, item := range tc.want {
		k, v, err := splitAssign(item)
		require.NoError(t, err)
		switch {
		case k == "stop":
			want, ok := stopNames[v]
			require.True(t, ok, "unknown stop %q", v)
			assert.Equal(t, want, stop.Reason, "stop (at %#x)", stop.PC)
		case k == "pc":
			want, err := num(strings.TrimPrefix(v, "+"))
			require.NoError(t, err)
			if strings.HasPrefix(v, "+") {
				want += codeBase
			}
			assert.Equal(t, hex(uint32(want)), hex(stop.PC&^3), "stop pc")
		case k == "fault":
			want, err := num(v)
			require.NoError(t, err)
			if assert.NotNil(t, stop.Fault, "fault") {
				assert.Equal(t, hex(uint32(want)), hex(stop.Fault.Addr), "fault address")
			}
		case k == "overflow":
			assert.Equal(t, v == "1", stop.Overflow, "overflow trap")
		case k == "insns":
			want, err := num(v)
			require.NoError(t, err)
			assert.Equal(t, want, c.Instructions, "instructions retired")
		case strings.HasPrefix(k, "mem:"):
			addr, err := num(strings.TrimPrefix(k, "mem:"))
			require.NoError(t, err)
			want, err := num(v)
			require.NoError(t, err)
			got, err := c.Mem.LoadWord(uint32(addr))
			require.NoError(t, err)
			assert.Equal(t, hex(uint32(want)), hex(got), "word at %#x", addr)
		default:
			get, _, ok := stateItem(c, k)
			require.True(t, ok, "unknown state %q", k)
			want, err := num(v)
			require.NoError(t, err)
			if strings.HasPrefix(k, "fr") && !strings.HasSuffix(k, "L") && !strings.HasSuffix(k, "R") {
				assert.Equal(t, fmt.Sprintf("%#x", want), fmt.Sprintf("%#x", get()), k)
			} else {
				assert.Equal(t, hex(uint32(want)), hex(uint32(get())), k)
			}
		}
	}
}

func TestInstructionScripts(t *testing.T) {
	scripts, err := filepath.Glob("testdata/insn/*.txt")
	require.NoError(t, err)
	require.NotEmpty(t, scripts)
	for _, path := range scripts {
		cases, err := parseScript(path)
		require.NoError(t, err)
		images, err := readWords(strings.TrimSuffix(path, ".txt") + ".words")
		require.NoError(t, err, "run go generate ./machine")
		for _, tc := range cases {
			img, ok := images[tc.name]
			require.True(t, ok, "%s:%d: no assembled words for %s: run go generate ./machine", path, tc.line, tc.name)
			t.Run(filepath.Base(path)+"/"+tc.name, func(t *testing.T) { runScriptCase(t, tc, img, EngineInterp, false) })
			t.Run(filepath.Base(path)+"/"+tc.name+"/traced", func(t *testing.T) { runScriptCase(t, tc, img, EngineInterp, true) })
			t.Run(filepath.Base(path)+"/"+tc.name+"/jit", func(t *testing.T) { runScriptCase(t, tc, img, EngineJIT, false) })
		}
	}
}

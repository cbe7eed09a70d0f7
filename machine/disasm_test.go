package machine

import (
	"bufio"
	"bytes"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDisassemble(t *testing.T) {
	// Expected renderings, taken from hppa-linux-gnu-objdump.
	for _, tc := range []struct {
		pc, word uint32
		want     string
	}{
		{0x10000, 0x6bc23fd9, "stw rp,-14(sp)"},
		{0x10000, 0x6fc40080, "stw,ma r4,40(sp)"},
		{0x10000, 0x4fc43f81, "ldw,mb -40(sp),r4"},
		{0x10000, 0x08040253, "copy r4,r19"},
		{0x10000, 0x08000240, "nop"},
		{0x10000, 0xe840c000, "bv r0(rp)"},
		{0x10000, 0x2b612000, "addil L%3000,dp,r1"},
		{0x10000, 0x036008a4, "mfctl tr3,r4"},
		{0x10000, 0x34190000, "ldi 0,r25"},
		{0x10000, 0xe4008160, "be,l b0(sr2,r0),sr0,r31"},
		{0x10000, 0x92a037eb, "cmpiclr,<> -b,r21,r0"},
		{0x10184, 0xe81f1fdf, "b,l,n 10178,r0"},
		{0x10000, 0x0b993880, "cmpclr,<> r25,ret0,r0"},
		{0x1019c, 0x83842068, "cmpb,= r4,ret0,101d8"},
		{0x10000, 0x27c11018, "fldw -10(sp),fr24"},
		{0x10000, 0xd0741c1f, "extrw,s r3,0,1,r20"},
		{0x10000, 0x22b94000, "ldil L%72000,r21"},
		{0x10000, 0x3b175717, "xmpyu fr24,fr23R,fr23"},
		{0x10000, 0x2fc11217, "fstd fr23,-10(sp)"},
		{0x10000, 0x0ba30a56, "shladd,l r3,1,ret1,r22"},
		{0x10000, 0xd29c0834, "shrpw ret0,r20,30,r20"},
		{0x10000, 0xd7f40863, "depw,z r20,28,29,r31"},
		{0x10000, 0x0afc051c, "sub,b ret0,r23,ret0"},
		{0x10000, 0x0b80099c, "uaddcm r0,ret0,ret0"},
		{0x10000, 0xd2c0bbdf, "extrw,u,<> r22,30,1,r0"},
		{0x10770, 0xc7dac0b0, "bb,>= r26,1e,107d0"},
		{0x10000, 0x04633194, "probei,r (r3),3,r20"},
		{0x10000, 0x0f8011dc, "ldcw 0(ret0),ret0"},
		{0x10000, 0x0c832096, "ldw,s r3(r4),r22"},
		{0x10000, 0x0e751222, "stb,ma r21,1(r19)"},
		{0x10000, 0x0ed53304, "stby,e r21,2(r22)"},
		{0x10000, 0xe0202452, "be,n 228(sr4,r1)"},
		{0x10000, 0x33ac0c1a, "fcmp,dbl,!= fr29,fr12"},
		{0x10000, 0x30c0221d, "fcnvff,sgl,dbl fr6,fr29"},
		{0x10000, 0x30002420, "ftest"},
		{0x10000, 0x1a95c5f6, "fmpyadd,sgl fr20R,fr21R,fr22R,fr23R,fr24R"},
		{0x10000, 0x38851606, "fadd,sgl fr4,fr5R,fr6"},
		{0x10000, 0x00000c00, "rfi"},
		{0x10000, 0x00000014, "break 14,0"},
		{0x10000, 0xffffff90, "#ffffff90"},
	} {
		assert.Equal(t, tc.want, Disassemble(tc.pc, tc.word), "%#08x", tc.word)
	}
}

// TestDisassembleMatchesObjdump compares Disassemble with
// hppa-linux-gnu-objdump, when the cross tools are installed, on every
// instruction of a static glibc program (the benchmark kernel linked with
// a main that prints) and of the instruction scripts.
func TestDisassembleMatchesObjdump(t *testing.T) {
	if !crossTools() {
		t.Skip("the hppa cross tools are not installed")
	}
	dir := t.TempDir()
	main := filepath.Join(dir, "main.c")
	require.NoError(t, os.WriteFile(main, []byte(objdumpMain), 0o644))
	prog := filepath.Join(dir, "prog")
	msg, err := exec.Command("hppa-linux-gnu-gcc", "-O2", "-static", "-o", prog, main, benchSource, "-lm").CombinedOutput()
	require.NoError(t, err, "%s", msg)
	programs := []string{prog}
	scripts, err := filepath.Glob("testdata/insn/*.txt")
	require.NoError(t, err)
	for _, path := range scripts {
		cases, err := parseScript(path)
		require.NoError(t, err)
		for _, tc := range cases {
			exe, err := linkImage(dir, tc.name+".s", asmPrelude+tc.asm, "_start")
			require.NoError(t, err)
			programs = append(programs, exe)
		}
	}
	compared := 0
	for _, path := range programs {
		want := objdumpWords(t, path)
		for addr, word := range textWords(t, path) {
			text, ok := want[addr]
			if !ok || strings.HasPrefix(text, "#") || strings.HasPrefix(text, "fmpy") || pa20Only(word, text) {
				continue // data, objdump's single fmpyadd names (it drops the R), PA 2.0
			}
			compared++
			if got := Disassemble(addr, word); got != text {
				t.Errorf("%s: %#x: %08x: got %q, objdump %q", filepath.Base(path), addr, word, got, text)
			}
		}
	}
	t.Logf("%d instructions compared", compared)
}

// pa20Only reports what objdump reads as PA 2.0: opcodes PA 1.1 does not
// have, and the 64-bit (",*") names it gives some add-and-branch
// conditions.
func pa20Only(word uint32, text string) bool {
	switch word >> 26 {
	case 0x14, 0x16, 0x17, 0x1C, 0x1E, 0x1F, 0x27, 0x2F, 0x36, 0x3B, 0x3C, 0x3D, 0x3E:
		return true
	}
	return strings.Contains(text, ",*")
}

const objdumpMain = `#include <stdio.h>
#include <stdlib.h>
#include <math.h>
unsigned kernel(int *buf, int rounds);
int main(int argc, char **argv) {
	int *buf = calloc(256, sizeof *buf);
	printf("%u %g\n", kernel(buf, argc), sqrt((double)argc));
	return 0;
}
`

// textWords returns the words of the .text section by address.
func textWords(t *testing.T, path string) map[uint32]uint32 {
	f, err := elf.Open(path)
	require.NoError(t, err)
	defer f.Close()
	text := f.Section(".text")
	require.NotNil(t, text)
	data, err := text.Data()
	require.NoError(t, err)
	words := map[uint32]uint32{}
	for i := 0; i+4 <= len(data); i += 4 {
		words[uint32(text.Addr)+uint32(i)] = be32(data[i : i+4])
	}
	return words
}

var objdumpLine = regexp.MustCompile(`^\s*([0-9a-f]+):\s+((?:[0-9a-f]{2} ){4})\s*(.*)$`)

// objdumpWords disassembles an object with objdump: address, word, text
// (symbolic target annotations removed).
func objdumpWords(t *testing.T, path string) map[uint32]string {
	out, err := exec.Command("hppa-linux-gnu-objdump", "-d", path).Output()
	require.NoError(t, err)
	got := map[uint32]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		m := objdumpLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		addr, _ := strconv.ParseUint(m[1], 16, 32)
		got[uint32(addr)] = strings.TrimSpace(regexp.MustCompile(` <[^>]*>`).ReplaceAllString(m[3], ""))
	}
	return got
}

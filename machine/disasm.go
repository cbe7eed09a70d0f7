package machine

import (
	"fmt"
	"strings"
)

// Disassemble renders the instruction word at pc in the syntax of
// hppa-linux-gnu-objdump (PA 2.0 mnemonics, hexadecimal displacements,
// decimal bit positions, r2/r27-r30 as rp, dp, ret0, ret1, sp), so a trace
// reads like a disassembly listing. Words that are not instructions print
// as #xxxxxxxx.
func Disassemble(pc, word uint32) string {
	pc &^= 3
	w := word
	var s string
	switch w >> 26 {
	case 0x00:
		s = disSystem(w)
	case 0x01:
		s = disMemMgmt(w)
	case 0x02:
		s = disArith(w)
	case 0x03:
		s = disIndexedMem(w)
	case 0x05:
		s = "diag " + hexConst(int32(field(w, 0, 26)))
	case 0x06, 0x26:
		s = disFPMulAdd(w)
	case 0x2E:
		s = disFPFused(w)
	case 0x08:
		s = fmt.Sprintf("ldil L%%%s,%s", hexConst(int32(assemble21(w))), grName(reg(w, 21)))
	case 0x09, 0x0B:
		s = disFPMem(w)
	case 0x0A:
		s = fmt.Sprintf("addil L%%%s,%s,r1", hexConst(int32(assemble21(w))), grName(reg(w, 21)))
	case 0x0C, 0x0E:
		s = disFPOp(w)
	case 0x0D:
		s = disLdo(w)
	case 0x10, 0x11, 0x12, 0x13, 0x18, 0x19, 0x1A, 0x1B:
		s = disLongDispMem(w)
	case 0x20, 0x21, 0x22, 0x23, 0x28, 0x29, 0x2A, 0x2B, 0x30, 0x31, 0x32, 0x33:
		s = disCondBranch(w, pc)
	case 0x24, 0x25, 0x2C, 0x2D:
		s = disArithImm(w)
	case 0x34:
		s = disShiftExtract(w)
	case 0x35:
		s = disDeposit(w)
	case 0x38, 0x39, 0x3A:
		s = disBranch(w, pc)
	}
	if s == "" {
		return fmt.Sprintf("#%08x", word)
	}
	return s
}

var grNames = [32]string{
	"r0", "r1", "rp", "r3", "r4", "r5", "r6", "r7", "r8", "r9",
	"r10", "r11", "r12", "r13", "r14", "r15", "r16", "r17", "r18", "r19",
	"r20", "r21", "r22", "r23", "r24", "r25", "r26", "dp", "ret0", "ret1", "sp", "r31",
}

func grName(r uint8) string { return grNames[r&31] }

var crNames = [32]string{
	"rctr", "cr1", "cr2", "cr3", "cr4", "cr5", "cr6", "cr7",
	"pidr1", "pidr2", "ccr", "sar", "pidr3", "pidr4", "iva", "eiem",
	"itmr", "pcsq", "pcoq", "iir", "isr", "ior", "ipsw", "eirr",
	"tr0", "tr1", "tr2", "tr3", "tr4", "tr5", "tr6", "tr7",
}

// frName names a floating-point register: r counts halves when single
// (bit 5 selects the right half), doubles otherwise.
func frName(r uint8, single bool) string {
	n := r & 31
	special := [4]string{"fr0", "fpe2", "fpe4", "fpe6"}
	if single && r&32 != 0 {
		if n < 4 {
			return fmt.Sprintf("fpe%d", n*2+1)
		}
		return fmt.Sprintf("fr%dR", n)
	}
	if n < 4 {
		return special[n]
	}
	return fmt.Sprintf("fr%d", n)
}

// hexConst prints a signed constant as objdump does: hex, minus sign.
func hexConst(v int32) string {
	if v < 0 {
		return fmt.Sprintf("-%x", -int64(v))
	}
	return fmt.Sprintf("%x", v)
}

var (
	compareConds = [16]string{"", ",=", ",<", ",<=", ",<<", ",<<=", ",sv", ",od",
		",tr", ",<>", ",>=", ",>", ",>>=", ",>>", ",nsv", ",ev"}
	addConds = [16]string{"", ",=", ",<", ",<=", ",nuv", ",znv", ",sv", ",od",
		",tr", ",<>", ",>=", ",>", ",uv", ",vnz", ",nsv", ",ev"}
	logicConds = [16]string{"", ",=", ",<", ",<=", ",?4", ",?5", ",?6", ",od",
		",tr", ",<>", ",>=", ",>", ",?c", ",?d", ",?e", ",ev"}
	unitConds = [16]string{"", ",swz", ",sbz", ",shz", ",sdc", ",swc", ",sbc", ",shc",
		",tr", ",nwz", ",nbz", ",nhz", ",ndc", ",nwc", ",nbc", ",nhc"}
	shiftConds = [8]string{"", ",=", ",<", ",od", ",tr", ",<>", ",>=", ",ev"}
)

// cfIndex turns the c and f fields (bits 13-15 and 12) into a table index.
func cfIndex(w uint32) uint32 { return field(w, 13, 3) + 8*field(w, 12, 1) }

func disSystem(w uint32) string {
	t := grName(reg(w, 0))
	switch field(w, 5, 8) {
	case 0x00:
		return fmt.Sprintf("break %x,%x", field(w, 0, 5), field(w, 13, 13))
	case 0x20:
		if w>>20&1 != 0 {
			return "syncdma"
		}
		return "sync"
	case 0x25:
		return fmt.Sprintf("mfsp sr%d,%s", spaceReg3(w), t)
	case 0xC1:
		return fmt.Sprintf("mtsp %s,sr%d", grName(reg(w, 16)), spaceReg3(w))
	case 0x45:
		return fmt.Sprintf("mfctl %s,%s", crNames[reg(w, 21)], t)
	case 0xC2:
		if reg(w, 21) == crSAR {
			return "mtsar " + grName(reg(w, 16))
		}
		return fmt.Sprintf("mtctl %s,%s", grName(reg(w, 16)), crNames[reg(w, 21)])
	case 0xA5:
		if field(w, 5, 21) == 0xA5 {
			return "mfia " + t
		}
	case 0xC6:
		if reg(w, 21) == crSAR {
			return "mtsarcm " + grName(reg(w, 16))
		}
	case 0x85:
		return fmt.Sprintf("ldsid (%s%s),%s", space2(w), grName(reg(w, 21)), t)
	case 0xC3:
		return "mtsm " + grName(reg(w, 16))
	case 0x73:
		return fmt.Sprintf("rsm %x,%s", field(w, 16, 10), t)
	case 0x6B:
		return fmt.Sprintf("ssm %x,%s", field(w, 16, 10), t)
	case 0x60:
		return "rfi"
	case 0x65:
		return "rfi,r"
	}
	return ""
}

// space2 prints the 2-bit space register of a load or store ("sr1," etc.);
// 0 selects the space from the base and is not printed.
func space2(w uint32) string {
	if s := field(w, 14, 2); s != 0 {
		return fmt.Sprintf("sr%d,", s)
	}
	return ""
}

// Cache and TLB operations on an indexed address, by their 8-bit
// extension (with a 2-bit space field) or 7-bit extension (3-bit space).
var (
	cacheOps2 = map[uint32]string{0x4A: "fdc", 0x4B: "fdce", 0x4E: "pdc", 0x48: "pdtlb", 0x49: "pdtlbe"}
	cacheOps3 = map[uint32]string{0x0A: "fic", 0x0B: "fice", 0x08: "pitlb", 0x09: "pitlbe"}
)

func disMemMgmt(w uint32) string {
	b, x := grName(reg(w, 21)), grName(reg(w, 16))
	m := ""
	if w>>5&1 != 0 {
		m = ",m"
	}
	ext8, ext7 := field(w, 6, 8), field(w, 6, 7)
	switch {
	case field(w, 7, 6) == 0x23 && w>>5&1 == 0:
		name := "probe"
		if w>>13&1 != 0 {
			name, x = "probei", fmt.Sprintf("%x", reg(w, 16))
		}
		rw := ",r"
		if w>>6&1 != 0 {
			rw = ",w"
		}
		return fmt.Sprintf("%s%s (%s%s),%s,%s", name, rw, space2(w), b, x, grName(reg(w, 0)))
	case ext8 == 0xCA && m == "":
		return fmt.Sprintf("fdc %s(%s%s)", hexConst(int32(lowSign(field(w, 16, 5), 5))), space2(w), b)
	case cacheOps2[ext8] != "":
		return fmt.Sprintf("%s%s %s(%s%s)", cacheOps2[ext8], m, x, space2(w), b)
	case cacheOps3[ext7] != "":
		return fmt.Sprintf("%s%s %s(sr%d,%s)", cacheOps3[ext7], m, x, spaceReg3(w), b)
	case ext8 == 0x4D:
		return fmt.Sprintf("lpa%s %s(%s%s),%s", m, x, space2(w), b, grName(reg(w, 0)))
	case ext8 == 0x4C:
		return fmt.Sprintf("lci %s(%s%s),%s", x, space2(w), b, grName(reg(w, 0)))
	case ext8 == 0x40, ext8 == 0x41:
		return fmt.Sprintf("idtlb%c %s,(%s%s)", "pa"[ext8&1], x, space2(w), b)
	case ext7 == 0x00, ext7 == 0x01:
		return fmt.Sprintf("iitlb%c %s,(sr%d,%s)", "pa"[ext7&1], x, spaceReg3(w), b)
	}
	return ""
}

// arithOps names the opcode 0x02 operations by their ext6 field, with
// the condition names they use (the add and shladd family is apart).
var arithOps = map[uint32]struct {
	name  string
	conds *[16]string
}{
	0x00: {"andcm", &logicConds}, 0x08: {"and", &logicConds}, 0x09: {"or", &logicConds},
	0x0A: {"xor", &logicConds}, 0x0E: {"uxor", &unitConds}, 0x11: {"ds", &addConds},
	0x22: {"cmpclr", &compareConds}, 0x26: {"uaddcm", &unitConds}, 0x27: {"uaddcm,tc", &unitConds},
	0x10: {"sub", &compareConds}, 0x30: {"sub,tsv", &compareConds}, 0x13: {"sub,tc", &compareConds},
	0x33: {"sub,tc,tsv", &compareConds}, 0x14: {"sub,b", &compareConds}, 0x34: {"sub,b,tsv", &compareConds},
	0x1C: {"add,c", &addConds}, 0x3C: {"add,c,tsv", &addConds},
}

func disArith(w uint32) string {
	if w>>5&1 != 0 {
		return ""
	}
	r1, r2, t := reg(w, 16), reg(w, 21), reg(w, 0)
	cf := cfIndex(w)
	ext := field(w, 6, 6)
	switch {
	case ext == 0x09 && cf == 0 && r1 == 0 && r2 == 0 && t == 0:
		return "nop"
	case ext == 0x09 && cf == 0 && r2 == 0:
		return fmt.Sprintf("copy %s,%s", grName(r1), grName(t))
	case ext == 0x2E || ext == 0x2F:
		if r1 != 0 {
			return ""
		}
		i := [2]string{"", ",i"}[ext&1]
		return fmt.Sprintf("dcor%s%s %s,%s", i, unitConds[cf], grName(r2), grName(t))
	case ext&0x3C == 0x18 || ext&0x3C == 0x28 || ext&0x3C == 0x38: // add, add,l, add,tsv
		kind := map[uint32]string{0x10: "", 0x20: ",l", 0x30: ",tsv"}[ext&0x30]
		if sh := ext & 3; sh != 0 {
			return fmt.Sprintf("shladd%s%s %s,%d,%s,%s", kind, addConds[cf], grName(r1), sh, grName(r2), grName(t))
		}
		return fmt.Sprintf("add%s%s %s,%s,%s", kind, addConds[cf], grName(r1), grName(r2), grName(t))
	}
	if op, ok := arithOps[ext]; ok {
		return fmt.Sprintf("%s%s %s,%s,%s", op.name, op.conds[cf], grName(r1), grName(r2), grName(t))
	}
	return ""
}

func disArithImm(w uint32) string {
	r, t, cf := grName(reg(w, 21)), grName(reg(w, 16)), cfIndex(w)
	imm := hexConst(int32(lowSign(w&0x7ff, 11)))
	tsv := ""
	if w>>11&1 != 0 {
		tsv = ",tsv"
	}
	switch w >> 26 {
	case 0x24:
		return fmt.Sprintf("cmpiclr%s %s,%s,%s", compareConds[cf], imm, r, t)
	case 0x25:
		return fmt.Sprintf("subi%s%s %s,%s,%s", tsv, compareConds[cf], imm, r, t)
	case 0x2C:
		return fmt.Sprintf("addi,tc%s%s %s,%s,%s", tsv, addConds[cf], imm, r, t)
	}
	return fmt.Sprintf("addi%s%s %s,%s,%s", tsv, addConds[cf], imm, r, t)
}

func disLdo(w uint32) string {
	b, t, d := reg(w, 21), grName(reg(w, 16)), hexConst(int32(lowSign(w&0x3fff, 14)))
	if b == 0 {
		return fmt.Sprintf("ldi %s,%s", d, t)
	}
	return fmt.Sprintf("ldo %s(%s),%s", d, grName(b), t)
}

func disLongDispMem(w uint32) string {
	op := w >> 26
	name := [4]string{"ldb", "ldh", "ldw", "ldw"}[op&3]
	if op >= 0x18 {
		name = "st" + name[2:]
	}
	disp := int32(lowSign(w&0x3fff, 14))
	if op&3 == 3 {
		name += ",ma"
		if disp < 0 {
			name = name[:len(name)-3] + ",mb"
		}
	}
	addr := fmt.Sprintf("%s(%s%s)", hexConst(disp), space2(w), grName(reg(w, 21)))
	r := grName(reg(w, 16))
	if op >= 0x18 {
		return fmt.Sprintf("%s %s,%s", name, r, addr)
	}
	return fmt.Sprintf("%s %s,%s", name, addr, r)
}

// indexCompl and shortCompl are the completers of indexed and
// short-displacement accesses, selected by the m and a/u bits.
func indexCompl(w uint32) string {
	return [4]string{"", ",m", ",s", ",sm"}[w>>5&1|w>>13&1<<1]
}

func shortCompl(w uint32) string { return [4]string{"", ",ma", "", ",mb"}[w>>5&1|w>>13&1<<1] }

func disIndexedMem(w uint32) string {
	b := grName(reg(w, 21))
	ext := field(w, 6, 4)
	short := w>>12&1 != 0
	var name string
	switch ext {
	case 0, 1, 2:
		name = [3]string{"ldb", "ldh", "ldw"}[ext]
	case 7:
		name = "ldcw"
	case 6:
		name = "ldwa"
	case 8, 9, 10:
		name = [3]string{"stb", "sth", "stw"}[ext-8]
	case 12:
		name = "stby"
	case 14:
		name = "stwa"
	default:
		return ""
	}
	switch {
	case ext >= 8 && !short:
		return ""
	case ext == 12:
		c := [4]string{"", ",b,m", ",e", ",e,m"}[w>>5&1|w>>13&1<<1]
		return fmt.Sprintf("stby%s %s,%s(%s%s)", c, grName(reg(w, 16)), hexConst(int32(lowSign(field(w, 0, 5), 5))), space2(w), b)
	case ext >= 8:
		return fmt.Sprintf("%s%s %s,%s(%s%s)", name, shortCompl(w), grName(reg(w, 16)), hexConst(int32(lowSign(field(w, 0, 5), 5))), space2(w), b)
	case short:
		return fmt.Sprintf("%s%s %s(%s%s),%s", name, shortCompl(w), hexConst(int32(lowSign(field(w, 16, 5), 5))), space2(w), b, grName(reg(w, 0)))
	}
	return fmt.Sprintf("%s%s %s(%s%s),%s", name, indexCompl(w), grName(reg(w, 16)), space2(w), b, grName(reg(w, 0)))
}

func disFPMem(w uint32) string {
	double := w>>26 == 0x0B
	if field(w, 7, 2) != 0 || double && w>>6&1 != 0 {
		return ""
	}
	name := "fldw"
	if double {
		name = "fldd"
	}
	store := w>>9&1 != 0
	if store {
		name = "fst" + name[3:]
	}
	fr := frName(reg(w, 0)|uint8(w>>6&1)<<5, !double)
	b := grName(reg(w, 21))
	var addr string
	if w>>12&1 != 0 {
		name += shortCompl(w)
		addr = fmt.Sprintf("%s(%s%s)", hexConst(int32(lowSign(field(w, 16, 5), 5))), space2(w), b)
	} else {
		name += indexCompl(w)
		addr = fmt.Sprintf("%s(%s%s)", grName(reg(w, 16)), space2(w), b)
	}
	if store {
		return fmt.Sprintf("%s %s,%s", name, fr, addr)
	}
	return fmt.Sprintf("%s %s,%s", name, addr, fr)
}

func disCondBranch(w, pc uint32) string {
	target := fmt.Sprintf("%x", pc+8+assemble12(w))
	n := ""
	if w>>1&1 != 0 {
		n = ",n"
	}
	op := w >> 26
	c := field(w, 13, 3)
	f := op >> 1 & 1 * 8
	r1, r2 := grName(reg(w, 16)), grName(reg(w, 21))
	im := hexConst(int32(lowSign(field(w, 16, 5), 5)))
	switch op {
	case 0x20, 0x22:
		return fmt.Sprintf("cmpb%s%s %s,%s,%s", compareConds[c+f], n, r1, r2, target)
	case 0x21, 0x23:
		return fmt.Sprintf("cmpib%s%s %s,%s,%s", compareConds[c+f], n, im, r2, target)
	case 0x28, 0x2A:
		return fmt.Sprintf("addb%s%s %s,%s,%s", addConds[c+f], n, r1, r2, target)
	case 0x29, 0x2B:
		return fmt.Sprintf("addib%s%s %s,%s,%s", addConds[c+f], n, im, r2, target)
	case 0x32:
		return fmt.Sprintf("movb%s%s %s,%s,%s", shiftConds[c], n, r1, r2, target)
	case 0x33:
		return fmt.Sprintf("movib%s%s %s,%s,%s", shiftConds[c], n, im, r2, target)
	}
	if w>>14&1 == 0 || op == 0x30 && reg(w, 21) != 0 {
		return ""
	}
	cond := [2]string{",<", ",>="}[w>>15&1]
	pos := "sar"
	if op == 0x31 {
		pos = fmt.Sprintf("%x", field(w, 21, 5))
	}
	return fmt.Sprintf("bb%s%s %s,%s,%s", cond, n, r1, pos, target)
}

func disShiftExtract(w uint32) string {
	c := shiftConds[field(w, 13, 3)]
	pos := field(w, 5, 5)
	length := 32 - field(w, 0, 5)
	switch field(w, 10, 3) {
	case 0:
		if pos == 0 {
			return fmt.Sprintf("shrpw%s %s,%s,sar,%s", c, grName(reg(w, 16)), grName(reg(w, 21)), grName(reg(w, 0)))
		}
	case 2:
		return fmt.Sprintf("shrpw%s %s,%s,%d,%s", c, grName(reg(w, 16)), grName(reg(w, 21)), 31-pos, grName(reg(w, 0)))
	case 4, 5:
		if pos == 0 {
			return fmt.Sprintf("extrw,%c%s %s,sar,%d,%s", "us"[w>>10&1], c, grName(reg(w, 21)), length, grName(reg(w, 16)))
		}
	case 6, 7:
		return fmt.Sprintf("extrw,%c%s %s,%d,%d,%s", "us"[w>>10&1], c, grName(reg(w, 21)), pos, length, grName(reg(w, 16)))
	}
	return ""
}

func disDeposit(w uint32) string {
	c := shiftConds[field(w, 13, 3)]
	sub := field(w, 10, 3)
	z := ""
	if sub&1 == 0 {
		z = ",z"
	}
	src := grName(reg(w, 16))
	name := "depw"
	if sub >= 4 {
		name, src = "depwi", hexConst(int32(lowSign(field(w, 16, 5), 5)))
	}
	length := 32 - field(w, 0, 5)
	pos := fmt.Sprint(31 - field(w, 5, 5))
	if sub>>1&1 == 0 {
		if field(w, 5, 5) != 0 {
			return ""
		}
		pos = "sar"
	}
	return fmt.Sprintf("%s%s%s %s,%s,%d,%s", name, z, c, src, pos, length, grName(reg(w, 21)))
}

func disBranch(w, pc uint32) string {
	n := ""
	if w>>1&1 != 0 {
		n = ",n"
	}
	switch w >> 26 {
	case 0x38:
		return fmt.Sprintf("be%s %s(sr%d,%s)", n, hexConst(int32(assemble17(w))), spaceReg3(w), grName(reg(w, 21)))
	case 0x39:
		return fmt.Sprintf("be,l%s %s(sr%d,%s),sr0,r31", n, hexConst(int32(assemble17(w))), spaceReg3(w), grName(reg(w, 21)))
	}
	t := grName(reg(w, 21))
	switch field(w, 13, 3) {
	case 0:
		return fmt.Sprintf("b,l%s %x,%s", n, pc+8+assemble17(w), t)
	case 1:
		return fmt.Sprintf("b,gate%s %x,%s", n, pc+8+assemble17(w), t)
	case 5:
		return fmt.Sprintf("b,l%s %x,rp", n, pc+8+assemble22(w))
	case 2:
		if field(w, 2, 11) == 0 && w&1 == 0 {
			return fmt.Sprintf("blr%s %s,%s", n, grName(reg(w, 16)), t)
		}
	case 6:
		if field(w, 2, 11) == 0 && w&1 == 0 {
			return fmt.Sprintf("bv%s %s(%s)", n, grName(reg(w, 16)), t)
		}
		if isBve(w) {
			return fmt.Sprintf("bve%s%s (%s)", returnStackHint(w, ",pop"), n, t)
		}
	case 7:
		if isBve(w) {
			return fmt.Sprintf("bve,l%s%s (%s),rp", returnStackHint(w, ",push"), n, t)
		}
	}
	return ""
}

// returnStackHint is bve's completer for bit 0, the return-stack hint.
func returnStackHint(w uint32, hint string) string {
	if w&1 != 0 {
		return hint
	}
	return ""
}

// Floating point. The coprocessor's formats: sgl, dbl, (quad).
var fpFormats = [4]string{",sgl", ",dbl", ",?2", ",quad"}

var fpCompareConds = [32]string{
	",false?", ",false", ",?", ",!<=>", ",=", ",=t", ",?=", ",!<>",
	",!?>=", ",<", ",?<", ",!>=", ",!?>", ",<=", ",?<=", ",!>",
	",!?<=", ",>", ",?>", ",!<=", ",!?<", ",>=", ",?>=", ",!<",
	",!?=", ",<>", ",!=", ",!=t", ",!?", ",<=>", ",true?", ",true",
}

// disFPOp disassembles the coprocessor operations of opcodes 0x0C (whole
// registers, 2-bit formats) and 0x0E (single halves selectable, 1-bit
// formats). Bits 9-10 give the class: 0 copy/abs/sqrt/round/negate,
// 1 conversions, 2 compare and test, 3 arithmetic.
func disFPOp(w uint32) string {
	op0E := w>>26 == 0x0E
	sub := field(w, 13, 3)
	r1, r2, t := reg(w, 21), reg(w, 16), reg(w, 0)
	format := field(w, 11, 2)
	if op0E {
		format = field(w, 11, 1)
		r1 |= uint8(w>>7&1) << 5
		r2 |= uint8(w>>12&1) << 5
		t |= uint8(w>>6&1) << 5
	}
	single := op0E && format == 0
	switch field(w, 9, 2) {
	case 0:
		if w == 0x30000000 {
			return "fid"
		}
		names := [8]string{"", "", "fcpy", "fabs", "fsqrt", "frnd", "fneg", "fnegabs"}
		if names[sub] == "" {
			return ""
		}
		return fmt.Sprintf("%s%s %s,%s", names[sub], fpFormats[format], frName(r1, single), frName(t, single))
	case 1:
		src, dst := field(w, 11, 2), field(w, 13, 2)
		if op0E {
			src, dst = field(w, 11, 1), field(w, 13, 1)
		}
		names := [8]string{"fcnvff", "fcnvxf", "fcnvfx", "fcnvfxt", "", "fcnvuf", "fcnvfu", "fcnvfut"}
		name := names[field(w, 15, 3)]
		if name == "" {
			return ""
		}
		return fmt.Sprintf("%s%s%s %s,%s", name, fpFormats[src], fpFormats[dst], frName(r1, op0E && src == 0), frName(t, op0E && dst == 0))
	case 2:
		if !op0E && w>>5&1 != 0 {
			return "ftest"
		}
		return fmt.Sprintf("fcmp%s%s %s,%s", fpFormats[format], fpCompareConds[field(w, 0, 5)], frName(r1, single), frName(r2, single))
	}
	if op0E && w>>8&1 != 0 {
		if sub == 2 && format == 0 {
			return fmt.Sprintf("xmpyu %s,%s,%s", frName(r1, true), frName(r2, true), frName(t&31, false))
		}
		return ""
	}
	names := [8]string{"fadd", "fsub", "fmpy", "fdiv", "", "", "", ""}
	if names[sub] == "" {
		return ""
	}
	return fmt.Sprintf("%s%s %s,%s,%s", names[sub], fpFormats[format], frName(r1, single), frName(r2, single), frName(t, single))
}

// disFPFused disassembles PA-RISC 2.0's fmpyfadd and fmpynfadd (0x2E).
// In single format bits 7, 12, 8 and 6 pick the right halves.
func disFPFused(w uint32) string {
	name := "fmpyfadd"
	if w>>5&1 != 0 {
		name = "fmpynfadd"
	}
	ra := uint8(field(w, 13, 3)<<2 | field(w, 9, 2))
	r1, r2, t := uint8(field(w, 21, 5)), uint8(field(w, 16, 5)), uint8(w&31)
	if w>>11&1 != 0 {
		return fmt.Sprintf("%s,dbl %s,%s,%s,%s", name, frName(r1, false), frName(r2, false), frName(ra, false), frName(t, false))
	}
	half := func(r uint8, bit uint) uint8 { return r | uint8(w>>bit&1)<<5 }
	return fmt.Sprintf("%s,sgl %s,%s,%s,%s", name, frName(half(r1, 7), true), frName(half(r2, 12), true),
		frName(half(ra, 8), true), frName(half(t, 6), true))
}

// disFPMulAdd disassembles fmpyadd (0x06) and fmpysub (0x26). The single
// form names registers 16-31 of either half through a 5-bit field.
func disFPMulAdd(w uint32) string {
	name := "fmpyadd"
	if w>>26 == 0x26 {
		name = "fmpysub"
	}
	double := w>>5&1 == 0 // binutils encodes ,sgl with bit 5 set
	// Operand order: rm1, rm2, tm, ra, ta.
	regs := []uint32{field(w, 21, 5), field(w, 16, 5), field(w, 0, 5), field(w, 6, 5), field(w, 11, 5)}
	names := make([]string, len(regs))
	for i, r := range regs {
		if double {
			names[i] = frName(uint8(r), false)
		} else {
			names[i] = singleMulAddReg(r)
		}
	}
	f := ",sgl"
	if double {
		f = ",dbl"
	}
	return fmt.Sprintf("%s%s %s", name, f, strings.Join(names, ","))
}

// singleMulAddReg names a 5-bit single register of fmpyadd,sgl: the left
// (0-15) or right (16-31) half of fr16-fr31.
func singleMulAddReg(r uint32) string {
	n := 16 + r&15
	if r&16 != 0 {
		return fmt.Sprintf("fr%dR", n)
	}
	return fmt.Sprintf("fr%d", n)
}

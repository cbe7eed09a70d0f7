package machine

// The decoder turns an instruction word at an address into an inst. It
// follows the PA-RISC 1.1 encodings (major opcode in the top six bits);
// every word it does not recognise decodes to opIllegal, privileged
// instructions to opPrivileged and moves to or from privileged registers
// to opPrivilegedRegister. Field names follow the architecture manual;
// bit positions here count from the least significant bit.

// field extracts n bits of w starting at bit lo.
func field(w uint32, lo, n uint) uint32 { return w >> lo & (1<<n - 1) }

// lowSign sign-extends an n-bit field whose sign is its lowest bit, the
// way PA-RISC encodes short immediates.
func lowSign(v uint32, n uint) uint32 { return v>>1 | -(v&1)<<(n-1) }

// signExt sign-extends the low n bits of v.
func signExt(v uint32, n uint) uint32 { return uint32(int32(v<<(32-n)) >> (32 - n)) }

// reg extracts the 5-bit register field at bit lo.
func reg(w uint32, lo uint) uint8 { return uint8(w >> lo & 31) }

// Branch displacements (in bytes) and long immediates.
func assemble12(w uint32) uint32 {
	return signExt(w&1<<11|w>>2&1<<10|w>>3&0x3ff, 12) << 2
}

func assemble17(w uint32) uint32 {
	return signExt(w&1<<16|w>>16&0x1f<<11|w>>2&1<<10|w>>3&0x3ff, 17) << 2
}

func assemble22(w uint32) uint32 {
	return signExt(w&1<<21|w>>16&0x3ff<<11|w>>2&1<<10|w>>3&0x3ff, 22) << 2
}

func assemble21(w uint32) uint32 {
	return (w&1<<20 | w>>1&0x7ff<<9 | w>>14&3<<7 | w>>16&0x1f<<2 | w>>12&3) << 11
}

// im5 extracts the low-sign 5-bit immediate at bit lo, to be kept in
// inst.pos and read back with inst.im5.
func im5(w uint32, lo uint) uint8 { return uint8(int8(int32(lowSign(field(w, lo, 5), 5)))) }

// spaceReg3 is the 3-bit space register number of mtsp, mfsp, be and ble.
func spaceReg3(w uint32) uint8 { return uint8(w>>13&1<<2 | w>>14&3) }

func decode(w, pc uint32) inst {
	in := inst{word: w, op: opIllegal}
	switch w >> 26 {
	case 0x00:
		decodeSystem(&in, w, pc)
	case 0x01:
		decodeMemMgmt(&in, w)
	case 0x02:
		decodeArith(&in, w)
	case 0x03:
		decodeIndexedMem(&in, w)
	case 0x05:
		in.op = opPrivileged // diag
	case 0x06, 0x0C, 0x0E, 0x26, 0x2E:
		decodeFPOp(&in, w)
	case 0x08: // ldil
		in.t, in.imm, in.op = reg(w, 21), assemble21(w), opLdil
	case 0x0A: // addil
		in.r1, in.imm, in.op = reg(w, 21), assemble21(w), opAddil
	case 0x09, 0x0B:
		decodeFPMem(&in, w)
	case 0x0D: // ldo
		in.r1, in.t, in.imm, in.op = reg(w, 21), reg(w, 16), lowSign(w&0x3fff, 14), opLdo
	case 0x10, 0x11, 0x12, 0x13, 0x18, 0x19, 0x1A, 0x1B:
		decodeLongDispMem(&in, w)
	case 0x20, 0x21, 0x22, 0x23, 0x28, 0x29, 0x2A, 0x2B, 0x30, 0x31, 0x32, 0x33:
		decodeCondBranch(&in, w, pc)
	case 0x24, 0x25, 0x2C, 0x2D:
		decodeArithImm(&in, w)
	case 0x34:
		decodeShiftExtract(&in, w)
	case 0x35:
		decodeDeposit(&in, w)
	case 0x38, 0x39, 0x3A:
		decodeBranch(&in, w, pc)
	}
	return in
}

func decodeSystem(in *inst, w, pc uint32) {
	switch field(w, 5, 8) {
	case 0x00:
		in.op = opBreak
	case 0x20: // sync, syncdma: memory is always coherent here
		in.op = opNop
	case 0x25: // mfsp
		if field(w, 16, 5) == 0 {
			in.r1, in.t, in.op = spaceReg3(w), reg(w, 0), opMfsp
		}
	case 0xC1: // mtsp
		in.r1, in.t, in.op = reg(w, 16), spaceReg3(w), opMtsp
		if in.t >= 5 {
			in.op = opPrivilegedRegister
		}
	case 0x45: // mfctl
		if field(w, 16, 5) == 0 {
			in.r1, in.t = reg(w, 21), reg(w, 0)
			switch in.r1 {
			case crSAR:
				in.op = opMfsar
			case crIntervalTimer:
				in.op = opMfIntervalTimer
			case 26, 27:
				in.op = opMfctl
			default:
				in.op = opPrivilegedRegister
			}
		}
	case 0xC2: // mtctl
		in.r1, in.t, in.op = reg(w, 16), reg(w, 21), opPrivilegedRegister
		if in.t == crSAR {
			in.op = opMtsar
		}
	case 0xC6: // mtsarcm (PA-RISC 2.0)
		if reg(w, 21) == crSAR {
			in.r1, in.op = reg(w, 16), opMtsarcm
		}
	case 0xA5: // mfia (PA-RISC 2.0)
		if field(w, 5, 21) == 0xA5 {
			in.t, in.imm, in.op = reg(w, 0), pc, opMfia
		}
	case 0x85: // ldsid
		in.t, in.op = reg(w, 0), opLdsid
	case 0xC3, 0x73, 0x6B, 0x60, 0x65: // mtsm, rsm, ssm, rfi, rfi,r
		in.op = opPrivileged
	}
}

func decodeMemMgmt(in *inst, w uint32) {
	in.r1, in.r2 = reg(w, 21), reg(w, 16)
	m := w>>5&1 != 0
	switch ext8, ext7 := field(w, 6, 8), field(w, 6, 7); {
	case field(w, 7, 6) == 0x23 && !m: // probe, probei
		in.t, in.op = reg(w, 0), opProbe
		if w>>6&1 != 0 {
			in.aux = uint8(ProtWrite)
		} else {
			in.aux = uint8(ProtRead)
		}
	case ext8 == 0xCA && !m: // fdc with displacement
		in.op = opNop
	case ext8 == 0x4A, ext8 == 0x4B, ext8 == 0x4E, ext8 == 0x4F, ext7 == 0x0A, ext7 == 0x0B:
		// fdc, fdce, pdc, fic (both encodings), fice: caches are
		// invisible here, only the base register modification is done.
		in.op = opNop
		if m {
			in.op = opCacheModify
		}
	case ext8 == 0x48, ext8 == 0x49, ext8 == 0x4C, ext8 == 0x4D, ext8 == 0x40, ext8 == 0x41,
		ext7 == 0x08, ext7 == 0x09, ext7 == 0x00, ext7 == 0x01:
		// pdtlb, pdtlbe, lci, lpa, idtlba, idtlbp, pitlb, pitlbe, iitlba, iitlbp
		in.op = opPrivileged
	}
}

func decodeArith(in *inst, w uint32) {
	if w>>5&1 != 0 {
		return
	}
	in.r1, in.r2, in.t, in.cf = reg(w, 16), reg(w, 21), reg(w, 0), uint8(field(w, 12, 4))
	ext := field(w, 6, 6)
	switch ext {
	case 0x00, 0x08, 0x09, 0x0A: // andcm, and, or, xor
		in.aux = uint8(ext)
		in.op = opLogicCond
		if in.cf == 0 {
			in.op = logicOp(ext)
		}
	case 0x0E:
		in.op = opUxor
	case 0x11:
		in.op = opDs
		if in.cf == 0 {
			in.op = opDsFast
		}
	case 0x22:
		in.op = opCmpclr
	case 0x26, 0x27: // uaddcm, uaddcm,tc
		in.op = opUaddcm
		if ext == 0x27 {
			in.fl |= flTrapCond
		}
		if in.cf == 0 {
			in.op = opUaddcmFast
		}
	case 0x2E, 0x2F: // dcor, dcor,i
		if in.r1 != 0 {
			return
		}
		in.r1 = in.r2
		in.op = opDcor
		if ext == 0x2F {
			in.op = opDcorI
		}
	case 0x18, 0x19, 0x1A, 0x1B, 0x28, 0x29, 0x2A, 0x2B, 0x38, 0x39, 0x3A, 0x3B, 0x1C, 0x3C:
		decodeAdd(in, ext)
	case 0x10, 0x30, 0x13, 0x33, 0x14, 0x34:
		in.op = opSub
		if ext&0x20 != 0 {
			in.fl |= flTrapOverflow
		}
		if ext&0x0F == 0x03 {
			in.fl |= flTrapCond
		}
		if ext&0x0F == 0x04 {
			in.fl |= flCarryIn
		}
		if in.fl == 0 && in.cf == 0 {
			in.op = opSubFast
		}
	}
}

// decodeAdd handles add, add,l, add,tsv, add,c, add,c,tsv and shladd.
func decodeAdd(in *inst, ext uint32) {
	in.op = opAdd
	switch ext & 0x3C {
	case 0x1C:
		in.fl |= flCarryIn
	case 0x3C:
		in.fl |= flCarryIn | flTrapOverflow
	default:
		in.aux = uint8(ext & 3)
		switch ext & 0x30 {
		case 0x20:
			in.fl |= flLogical
		case 0x30:
			in.fl |= flTrapOverflow
		}
	}
	switch {
	case in.cf != 0:
	case in.fl == flLogical && in.aux == 0:
		in.op = opAddL
	case in.fl == flLogical:
		in.op = opShAddL
	case in.fl == 0 && in.aux == 0:
		in.op = opAddFast
	case in.fl == flCarryIn:
		in.op = opAddcFast
	}
}

func decodeArithImm(in *inst, w uint32) {
	in.r1, in.t, in.cf, in.imm = reg(w, 21), reg(w, 16), uint8(field(w, 12, 4)), lowSign(w&0x7ff, 11)
	o := w>>11&1 != 0
	switch w >> 26 {
	case 0x24: // cmpiclr (bit 11 is the PA 2.0 doubleword flag)
		in.op = opCmpiclr
	case 0x25: // subi, subi,tsv
		in.op = opSubi
		if o {
			in.fl |= flTrapOverflow
		}
		if in.fl == 0 && in.cf == 0 {
			in.op = opSubiFast
		}
	case 0x2C, 0x2D: // addi,tc / addi
		in.op = opAddi
		if o {
			in.fl |= flTrapOverflow
		}
		if w>>26 == 0x2C {
			in.fl |= flTrapCond
		}
		if !o && in.cf == 0 { // a trap on condition "never" never happens
			in.op = opAddiFast
		}
	}
}

func decodeLongDispMem(in *inst, w uint32) {
	op := w >> 26
	in.r1, in.t, in.imm = reg(w, 21), reg(w, 16), lowSign(w&0x3fff, 14)
	size := uint8(1) << (op & 3)
	if op&3 == 3 { // ldwm, stwm: modify before with a negative displacement
		size = 4
		in.aux = modPost
		if int32(in.imm) < 0 {
			in.aux = modPre
		}
	}
	if op < 0x18 {
		in.op = loadOp(size, in)
	} else {
		in.op = storeOp(size, in)
	}
}

// decodeAccess decodes the addressing of the opcode 0x03, 0x09 and 0x0B
// loads and stores: base GR[b] plus either a 5-bit displacement (bit 12
// set; bit 5 modifies the base, after the access or, with bit 13, before)
// or an index register (bit 5 modifies the base after the access; bit 13
// scales the index by 1<<scale). It reports whether the form is short.
func decodeAccess(in *inst, w uint32, scale uint8) (short bool) {
	in.r1 = reg(w, 21)
	a, m := w>>13&1 != 0, w>>5&1 != 0
	if w>>12&1 != 0 {
		in.imm = lowSign(field(w, 16, 5), 5)
		if m {
			in.aux = modPost
			if a {
				in.aux = modPre
			}
		}
		return true
	}
	in.r2 = reg(w, 16)
	in.fl |= flIndexed
	if a {
		in.pos = scale
	}
	if m {
		in.aux = modPost
	}
	return false
}

func decodeIndexedMem(in *inst, w uint32) {
	ext := field(w, 6, 4)
	scale := uint8(ext & 3)
	if ext == 7 { // ldcw
		scale = 2
	}
	short := decodeAccess(in, w, scale)
	in.t = reg(w, 0)
	switch {
	case ext <= 2: // ldb, ldh, ldw
		in.op = loadOp(1<<ext, in)
	case ext == 7:
		in.op = opLdcw
	case ext == 6, ext == 14, ext == 15: // ldwa, stwa, stda
		in.op = opPrivileged
	case !short:
	case ext >= 8 && ext <= 10: // stb, sth, stw
		in.t, in.imm = reg(w, 16), lowSign(field(w, 0, 5), 5)
		in.op = storeOp(1<<(ext-8), in)
	case ext == 12: // stby: ,m always moves the base after the store
		in.t, in.imm = reg(w, 16), lowSign(field(w, 0, 5), 5)
		in.aux = modNone
		if w>>5&1 != 0 {
			in.aux = modPost
		}
		in.op = opStbyBegin
		if w>>13&1 != 0 {
			in.op = opStbyEnd
		}
	}
}

func decodeCondBranch(in *inst, w, pc uint32) {
	disp := assemble12(w)
	in.imm = pc + 8 + disp
	if w>>1&1 != 0 {
		if int32(disp) >= 0 {
			in.fl |= flNullifyTaken
		} else {
			in.fl |= flNullifyUntaken
		}
	}
	op := w >> 26
	c := uint8(field(w, 13, 3))
	f := uint8(op >> 1 & 1) // the "false" opcodes 0x22, 0x23, 0x2A, 0x2B
	in.r1, in.r2 = reg(w, 16), reg(w, 21)
	switch op {
	case 0x20, 0x22:
		in.cf, in.op = c<<1|f, opCmpb
	case 0x21, 0x23:
		in.cf, in.op, in.pos = c<<1|f, opCmpib, im5(w, 16)
	case 0x28, 0x2A:
		in.cf, in.op = c<<1|f, opAddb
	case 0x29, 0x2B:
		in.cf, in.op, in.pos = c<<1|f, opAddib, im5(w, 16)
	case 0x32:
		in.cf, in.op = c, opMovb
	case 0x33:
		in.cf, in.op, in.pos = c, opMovib, im5(w, 16)
	case 0x30, 0x31: // bb with SAR or immediate position; bit 14 must be set
		if w>>14&1 == 0 || op == 0x30 && in.r2 != 0 {
			return
		}
		in.r1 = reg(w, 16)
		in.cf = uint8(w >> 15 & 1)
		in.op = opBb
		if op == 0x30 {
			in.op = opBvb
		} else {
			in.pos = uint8(31 - field(w, 21, 5))
		}
	}
}

func decodeShiftExtract(in *inst, w uint32) {
	in.cf = uint8(field(w, 13, 3))
	pos := field(w, 5, 5)
	length := uint8(32 - field(w, 0, 5))
	switch field(w, 10, 3) {
	case 0: // shrpw with SAR (vshd)
		if pos == 0 {
			in.r1, in.r2, in.t, in.op = reg(w, 16), reg(w, 21), reg(w, 0), opVshd
		}
	case 2: // shrpw with a fixed amount (shd)
		in.r1, in.r2, in.t, in.aux, in.op = reg(w, 16), reg(w, 21), reg(w, 0), uint8(31-pos), opShd
	case 4, 5: // extrw with SAR (vextru, vextrs)
		if pos == 0 {
			in.r1, in.t, in.aux, in.op = reg(w, 21), reg(w, 16), length, opVextru
			if w>>10&1 != 0 {
				in.op = opVextrs
			}
		}
	case 6, 7: // extrw (extru, extrs)
		in.r1, in.t = reg(w, 21), reg(w, 16)
		cpos := 31 - pos // least significant bit of the field
		if uint32(length) > 32-cpos {
			length = uint8(32 - cpos)
		}
		// The field is isolated by shifting it to the top, then down.
		in.pos, in.aux = uint8(32-cpos-uint32(length)), 32-length
		in.op = opExtru
		if w>>10&1 != 0 {
			in.op = opExtrs
		}
	}
}

func decodeDeposit(in *inst, w uint32) {
	in.cf = uint8(field(w, 13, 3))
	in.t, in.r1 = reg(w, 21), reg(w, 16)
	cpos := field(w, 5, 5)
	in.aux = uint8(32 - field(w, 0, 5)) // length
	sub := field(w, 10, 3)
	if sub&1 != 0 { // dep, vdep, depi, vdepi keep the bits around the field
		in.fl |= flKeep
	}
	if sub >= 4 { // the deposited value is the 5-bit immediate
		in.imm = lowSign(uint32(in.r1), 5)
	}
	switch sub >> 1 {
	case 0, 2: // deposit at SAR
		if cpos != 0 {
			return
		}
		in.op = opVdep
		if sub >= 4 {
			in.op = opVdepi
		}
	case 1, 3: // deposit at a fixed position
		in.pos = uint8(cpos)
		in.op = opDep
		if sub >= 4 {
			in.op = opDepi
		}
	}
}

func decodeBranch(in *inst, w, pc uint32) {
	if w>>1&1 != 0 {
		in.fl |= flNullify
	}
	switch w >> 26 {
	case 0x38, 0x39: // be, be,l
		in.r1, in.imm, in.aux = reg(w, 21), assemble17(w), spaceReg3(w)
		in.op = opBe
		if w>>26 == 0x39 {
			in.t = 31
		}
		return
	}
	in.t = reg(w, 21)
	switch field(w, 13, 3) {
	case 0: // b,l
		in.imm, in.op = pc+8+assemble17(w), opBl
	case 1: // b,gate
		in.imm, in.op = pc+8+assemble17(w), opGate
	case 5: // b,l with 22-bit displacement, linking to r2
		in.imm, in.t, in.op = pc+8+assemble22(w), 2, opBl
	case 2: // blr
		if field(w, 2, 11) == 0 && w&1 == 0 {
			in.r2, in.imm, in.op = reg(w, 16), pc+8, opBlr
		}
	case 6: // bv, and PA-RISC 2.0's bve (bit 0 is a return-stack hint)
		switch {
		case field(w, 2, 11) == 0 && w&1 == 0:
			in.r1, in.r2, in.t, in.op = reg(w, 21), reg(w, 16), 0, opBv
		case isBve(w):
			in.r1, in.t, in.op = reg(w, 21), 0, opBve
		}
	case 7: // bve,l (PA-RISC 2.0), linking to r2
		if isBve(w) {
			in.r1, in.t, in.op = reg(w, 21), 2, opBve
		}
	}
}

// isBve tells bve and bve,l from the other words of their sub-opcodes.
func isBve(w uint32) bool { return field(w, 2, 10) == 0 && w>>12&1 != 0 && field(w, 16, 5) == 0 }

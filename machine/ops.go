package machine

// opcode names what a decoded instruction does: the handler that
// executes it, and for the most frequent ones the case of runInline that
// executes it without a call.
type opcode uint8

const (
	opIllegal opcode = iota

	// runInline executes these itself, so they come first and together:
	// its switch is then one bounds check and a jump table.
	opLdo
	opLdil
	opAddil
	opAddL
	opShAddL
	opAddFast
	opAddiFast
	opAddcFast
	opSubFast
	opSubiFast
	opDsFast
	opUaddcmFast
	opAndcm
	opAnd
	opOr
	opXor
	opCmpclr
	opCmpiclr
	opShd
	opVshd
	opExtru
	opExtrs
	opVextru
	opVextrs
	opDep
	opDepi
	opVdep
	opVdepi
	opBl
	opBlr
	opBv
	opBve
	opBe
	opCmpb
	opCmpib
	opAddb
	opAddib
	opMovb
	opMovib
	opBb
	opBvb
	opLdbDisp
	opLdhDisp
	opLdwDisp
	opLdb
	opLdh
	opLdw
	opStbDisp
	opSthDisp
	opStwDisp
	opStb
	opSth
	opStw
	opFldw
	opFstw
	opFldd
	opFstd
	opNop
	opMfsar
	opMtsar

	// The rest only have handlers.
	opAdd
	opAddi
	opSub
	opSubi
	opLogicCond
	opUxor
	opUaddcm
	opDcor
	opDcorI
	opDs
	opGate
	opLdcw
	opStbyBegin
	opStbyEnd
	opProbe
	opCacheModify
	opFP
	opPrivileged
	opPrivilegedRegister
	opBreak
	opMfsp
	opMtsp
	opLdsid
	opMfia
	opMtsarcm
	opMfIntervalTimer
	opMfctl

	numOps
)

// handlers executes every operation, those runInline runs included: it
// declines a load or store whose page the access caches do not hold, and
// traced execution uses only the handlers.
var handlers = [numOps]handler{
	opIllegal:            execIllegal,
	opLdo:                execLdo,
	opLdil:               execLdil,
	opAddil:              execAddil,
	opAddL:               execAddL,
	opShAddL:             execShAddL,
	opAddFast:            execAddFast,
	opAddiFast:           execAddi,
	opAddcFast:           execAddcFast,
	opSubFast:            execSubFast,
	opSubiFast:           execSubi,
	opUaddcmFast:         execUaddcmFast,
	opDsFast:             execDs,
	opAndcm:              execAndcm,
	opAnd:                execAnd,
	opOr:                 execOr,
	opXor:                execXor,
	opCmpclr:             execCmpclr,
	opCmpiclr:            execCmpiclr,
	opShd:                shiftHandler((*CPU).shd),
	opVshd:               shiftHandler((*CPU).vshd),
	opExtru:              shiftHandler((*CPU).extru),
	opExtrs:              shiftHandler((*CPU).extrs),
	opVextru:             shiftHandler((*CPU).vextru),
	opVextrs:             shiftHandler((*CPU).vextrs),
	opDep:                shiftHandler((*CPU).dep),
	opDepi:               shiftHandler((*CPU).depi),
	opVdep:               shiftHandler((*CPU).vdep),
	opVdepi:              shiftHandler((*CPU).vdepi),
	opBl:                 branchHandler((*CPU).bl),
	opBlr:                branchHandler((*CPU).blr),
	opBv:                 branchHandler((*CPU).bv),
	opBve:                branchHandler((*CPU).bve),
	opBe:                 branchHandler((*CPU).be),
	opCmpb:               branchHandler((*CPU).cmpb),
	opCmpib:              branchHandler((*CPU).cmpib),
	opAddb:               branchHandler((*CPU).addb),
	opAddib:              branchHandler((*CPU).addib),
	opMovb:               branchHandler((*CPU).movb),
	opMovib:              branchHandler((*CPU).movib),
	opBb:                 branchHandler((*CPU).bb),
	opBvb:                branchHandler((*CPU).bvb),
	opLdbDisp:            execLdb,
	opLdhDisp:            execLdh,
	opLdwDisp:            execLdw,
	opLdb:                execLdb,
	opLdh:                execLdh,
	opLdw:                execLdw,
	opStbDisp:            execStb,
	opSthDisp:            execSth,
	opStwDisp:            execStw,
	opStb:                execStb,
	opSth:                execSth,
	opStw:                execStw,
	opFldw:               execFldw,
	opFstw:               execFstw,
	opFldd:               execFldd,
	opFstd:               execFstd,
	opNop:                execNop,
	opMfsar:              execMfsar,
	opMtsar:              execMtsar,
	opAdd:                execAdd,
	opAddi:               execAddi,
	opSub:                execSub,
	opSubi:               execSubi,
	opLogicCond:          execLogicCond,
	opUxor:               execUxor,
	opUaddcm:             execUaddcm,
	opDcor:               execDcor,
	opDcorI:              execDcorI,
	opDs:                 execDs,
	opGate:               branchHandler((*CPU).gate),
	opLdcw:               execLdcw,
	opStbyBegin:          execStbyBegin,
	opStbyEnd:            execStbyEnd,
	opProbe:              execProbe,
	opCacheModify:        execCacheModify,
	opFP:                 execFP,
	opPrivileged:         execPrivileged,
	opPrivilegedRegister: execPrivilegedRegister,
	opBreak:              execBreak,
	opMfsp:               execMfsp,
	opMtsp:               execMtsp,
	opLdsid:              execLdsid,
	opMfia:               execMfia,
	opMtsarcm:            execMtsarcm,
	opMfIntervalTimer:    execMfIntervalTimer,
	opMfctl:              execMfctl,
}

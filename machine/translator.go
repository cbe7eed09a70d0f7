//go:build linux && amd64

package machine

import (
	"fmt"
	"math"
	"runtime"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/synodvm/synod/machine/jit"
)

// The translator turns guest basic blocks into amd64 code (translate_*.go)
// once they are warm (see translateAfter) and keeps them for as long as
// their page's code is unchanged. A block
// is keyed by the queue and the nullify bit it starts with; it starts
// where IAOQBack is IAOQFront+4, which is everywhere but in a delay slot
// entered from outside a block.
//
// Generated code finds the next block itself through the dispatch table,
// a direct-mapped cache in state memory from key to code address; it
// returns to runTranslated (an exit) when the table misses, when the
// budget does not cover a whole block, and before an instruction it does
// not translate or a load or store the access caches miss, which the
// interpreter then executes.

// Why generated code returned (in EAX).
const (
	exitLookup = 1 + iota // no block in the table for the queue and nullify bit in the state
	exitStep              // the interpreter must execute the instruction at the front of the queue
	exitBudget            // the budget left is less than the block at the front of the queue
)

const (
	arenaSize = 16 << 20
	// tableEntries is the number of dispatch table entries, of 16 bytes:
	// a key (front<<1 | nullify, or emptyKey) and a code address.
	tableEntries = 1 << 14
	tableOffset  = 4096 // where the table starts in the state memory
	// emptyKey marks a free table entry: the key of the gateway page's
	// first word, which is never translated, and what fresh memory holds.
	emptyKey = 0
	// maxEntryInstructions bounds the instructions one entry into
	// generated code retires, so that it returns to Go (where the
	// goroutine can be preempted) at least every few milliseconds.
	maxEntryInstructions = 1 << 22
)

// Register roles in generated code. RAX, RCX, RDX and R8-R10 are scratch;
// RBX, R11, R14 and R15 are the register cache's (cacheHolders), but for
// R11 in the exits.
const (
	rState  = jit.RDI // the state memory
	rBudget = jit.RSI // int64: instructions that may still retire
	rNext   = jit.R12 // the next front: what dispatch looks up
	rNull   = jit.R13 // the nullify bit, where it is not known at translation
	rBack   = jit.R11 // the back of the queue an exit stores
)

type translator struct {
	arena *jit.Arena
	data  *jit.Data
	state *guestState // in data
	table []uint64    // the dispatch table, in data: key and code address of each entry
	// stubsEnd is the size of the shared code at the arena's start:
	// entry, dispatch and exit.
	stubsEnd               int
	entry, dispatch, leave uintptr
	// blocks holds every translated block by key, the table only some;
	// pages lists the keys of each page's blocks, for invalidation.
	blocks map[uint64]uintptr
	pages  map[uint32][]uint64
	// links lists the chaining jumps to each block by its key, translated
	// or not; outgoing the targets of each block's jumps.
	links    map[uint64][]chainLink
	outgoing map[uint64][]uint64
	// heat counts, by heatSlot, the times runTranslated reached keys
	// not translated yet, and how many of the slot's keys are: a table,
	// not a map, since cold blocks are many and each run of one counts
	// (keys that share a counter only warm up sooner). A cold run looks
	// up nothing else: a map lookup of every run was most of what a
	// cold block cost beyond the interpreter.
	heat *[heatSlots]warmth
	// rewrites counts the times each page's blocks were dropped (its
	// code changed, or the page was unmapped or protected): a block of
	// such a page waits twice as long for each, so that code rewritten
	// in a loop is not translated again after every rewrite.
	rewrites map[uint32]uint8
	asm      jit.Asm
}

// warmth is a heat slot: the keys hashed to it that runTranslated reached
// while they were not translated, and those translated.
type warmth struct {
	runs, translated uint16
}

// attachTranslator returns m's translator, creating it on first use.
func (m *Memory) attachTranslator() *translator {
	if m.translator == nil {
		m.translator = &translator{}
		m.translator.forget()
		runtime.AddCleanup(m, (*translator).close, m.translator)
	}
	return m.translator
}

// mapMemory maps the code and state memory and writes the shared code,
// at the first translation: a process that translates nothing (a short
// one, a child that execs at once) maps none. Mapping and populating
// them took 100 to 200 µs, more than a whole short program's guest code
// takes to interpret.
func (t *translator) mapMemory() error {
	arena, err := jit.NewArena(arenaSize)
	if err != nil {
		return fmt.Errorf("translator: %w", err)
	}
	data, err := jit.NewData(tableOffset + 16*tableEntries)
	if err != nil {
		arena.Close()
		return fmt.Errorf("translator: %w", err)
	}
	mem := data.Bytes()
	t.arena, t.data, t.state = arena, data, (*guestState)(unsafe.Pointer(&mem[0]))
	t.table = unsafe.Slice((*uint64)(unsafe.Pointer(&mem[tableOffset])), 2*tableEntries)
	t.state.table = data.Addr() + tableOffset
	if err := t.writeStubs(); err != nil {
		t.close()
		return err
	}
	return nil
}

// close unmaps what mapMemory mapped: when the memory is collected, or
// when mapMemory fails before any block exists.
func (t *translator) close() {
	if t.arena != nil {
		t.arena.Close()
		t.data.Close()
		t.arena, t.data, t.state, t.table = nil, nil, nil, nil
	}
}

// flush forgets every block and reclaims their code memory.
func (t *translator) flush() {
	t.arena.Truncate(t.stubsEnd)
	clear(t.table)
	t.forget()
}

func (t *translator) forget() {
	t.blocks = map[uint64]uintptr{}
	t.pages = map[uint32][]uint64{}
	t.links = map[uint64][]chainLink{}
	t.outgoing = map[uint64][]uint64{}
	t.heat = new([heatSlots]warmth)
	t.rewrites = map[uint32]uint8{}
}

// heatSlots is the number of counters of heat.
const heatSlots = 1 << 14

func heatSlot(key uint64) uint64 { return key >> 3 % heatSlots }

func blockKey(front uint32, nullify bool) uint64 { return uint64(front)<<1 | uint64(b2u(nullify)) }

// slot is the table entry of key: its key and code address.
func (t *translator) slot(key uint64) []uint64 {
	i := (key >> 3) % tableEntries * 2
	return t.table[i : i+2]
}

// writeStubs writes the code every block shares:
//
//   - entry, which Enter calls: it saves R14 and R15 (Go's goroutine
//     register and a register of dynamically linked code, which the
//     register cache uses), loads the registers from the state and
//     dispatches on the queue front and nullify bit there.
//   - dispatch: looks up the block of rNext and rNull in the table and
//     jumps to it, or exits with exitLookup.
//   - leave: stores rNext, rBack, rNull and rBudget in the state,
//     restores R14 and R15 and returns EAX to Enter's caller.
func (t *translator) writeStubs() error {
	a := &t.asm
	a.Reset()
	dispatch, miss, leave := a.NewLabel(), a.NewLabel(), a.NewLabel()
	a.Store64(jit.At(rState, stSavedR14), jit.R14)
	a.Store64(jit.At(rState, stSavedR15), jit.R15)
	a.Load64(rBudget, jit.At(rState, stBudget))
	a.Load32(rNext, jit.At(rState, stFront))
	a.Load32(rNull, jit.At(rState, stNullify))

	a.Bind(dispatch)
	dispatchAt := a.Len()
	a.Mov32(jit.RAX, rNext)
	a.Lea64(jit.RAX, jit.Indexed(rNull, jit.RAX, 2, 0)) // the key
	a.Mov32(jit.RCX, rNext)
	a.ShiftImm32(jit.SHR, jit.RCX, 2)
	a.ALUImm32(jit.AND, jit.RCX, tableEntries-1)
	a.ShiftImm32(jit.SHL, jit.RCX, 4)
	a.Load64(jit.RDX, jit.At(rState, stTable))
	a.CmpMem64(jit.Indexed(jit.RDX, jit.RCX, 1, 0), jit.RAX)
	a.Jcc(jit.CondNE, miss)
	a.JmpMem(jit.Indexed(jit.RDX, jit.RCX, 1, 8))

	a.Bind(miss)
	a.Lea32(rBack, jit.At(rNext, 4))
	a.MovImm32(jit.RAX, exitLookup)

	a.Bind(leave)
	leaveAt := a.Len()
	a.Store32(jit.At(rState, stFront), rNext)
	a.Store32(jit.At(rState, stBack), rBack)
	a.Store32(jit.At(rState, stNullify), rNull)
	a.Store64(jit.At(rState, stBudget), rBudget)
	a.Load64(jit.R14, jit.At(rState, stSavedR14))
	a.Load64(jit.R15, jit.At(rState, stSavedR15))
	a.Ret()
	code, err := a.Finish()
	if err != nil {
		return fmt.Errorf("translator stubs: %w", err)
	}
	at, err := t.arena.Write(code)
	if err != nil {
		return fmt.Errorf("translator stubs: %w", err)
	}
	t.entry, t.dispatch, t.leave = at, at+uintptr(dispatchAt), at+uintptr(leaveAt)
	t.stubsEnd = t.arena.Used()
	return nil
}

// prepare makes the block of (front, nullify) enterable through the
// table, translating it if need be, once runTranslated has reached it
// translateAfter times. It reports false while the block is cold, and
// when front's page cannot be executed from (the interpreter then says
// why).
func (t *translator) prepare(m *Memory, front uint32, nullify bool) (bool, error) {
	key := blockKey(front, nullify)
	w := &t.heat[heatSlot(key)]
	var at uintptr
	ok := false
	if w.translated > 0 { // else the key is neither in the table nor in blocks
		if s := t.slot(key); s[0] == key {
			return true, nil
		}
		at, ok = t.blocks[key]
	}
	if !ok {
		w.runs = min(w.runs+1, maxRuns)
		if uint32(w.runs) < translateAfter || front < PageSize { // front < PageSize: the gateway page
			return false, nil
		}
		page := front >> PageShift
		if r := t.rewrites[page]; r > 0 && uint32(w.runs) < min(translateAfter<<min(r, 16), maxRuns) {
			return false, nil
		}
		code := m.code(front &^ 3)
		if code == nil {
			return false, nil
		}
		if t.arena == nil {
			if err := t.mapMemory(); err != nil {
				return false, err
			}
		}
		var sites []chainSite
		var err error
		if at, sites, err = t.translate(code, front, nullify); err != nil {
			return false, err
		}
		w = &t.heat[heatSlot(key)] // a new table if translate flushed
		w.runs = 0
		w.translated++
		t.blocks[key] = at
		t.pages[page] = append(t.pages[page], key)
		t.link(key, at, sites)
	}
	s := t.slot(key)
	s[0], s[1] = key, uint64(at)
	return true, nil
}

// maxRuns is where warmth.runs stops counting: a block waiting longer is
// translated when it gets there.
const maxRuns = 1<<16 - 1

// translated counts the blocks translated in this process and the time
// their translation took, for TranslationStats.
var translated struct {
	blocks, nanoseconds atomic.Uint64
}

// TranslationStats reports how many blocks the translator has translated
// in this process, by every CPU, and the time it spent translating them.
func TranslationStats() (blocks uint64, spent time.Duration) {
	return translated.blocks.Load(), time.Duration(translated.nanoseconds.Load())
}

// translate writes the code of the block at (front, nullify), flushing
// every block first when the arena is full.
func (t *translator) translate(code *codePage, front uint32, nullify bool) (uintptr, []chainSite, error) {
	start := time.Now()
	defer func() {
		translated.blocks.Add(1)
		translated.nanoseconds.Add(uint64(time.Since(start)))
	}()
	for range 2 {
		b := blockBuilder{t: t, a: &t.asm, code: code, entry: front, base: t.arena.Next()}
		b.a.Reset()
		b.build(nullify)
		out, err := b.a.Finish()
		if err != nil {
			return 0, nil, fmt.Errorf("translate block at %#x: %w", front, err)
		}
		if len(out) <= t.arena.Free() {
			at, err := t.arena.Write(out)
			return at, b.sites, err
		}
		t.flush()
	}
	return 0, nil, fmt.Errorf("translate block at %#x: larger than the code arena", front)
}

// invalidate drops the blocks of pages first to last.
func (t *translator) invalidate(first, last uint32) {
	drop := func(page uint32) {
		keys, ok := t.pages[page]
		if !ok {
			return
		}
		for _, key := range keys {
			t.unlink(key)
			delete(t.blocks, key)
			t.heat[heatSlot(key)].translated--
			if s := t.slot(key); s[0] == key {
				s[0] = emptyKey
			}
		}
		delete(t.pages, page)
		t.rewrites[page] = min(t.rewrites[page]+1, math.MaxUint8)
	}
	if last-first < uint32(len(t.pages)) {
		for page := first; ; page++ {
			drop(page)
			if page == last {
				return
			}
		}
	}
	for page := range t.pages {
		if page >= first && page <= last {
			drop(page)
		}
	}
}

// translatorAvailable says whether EngineJIT translates on this host.
const translatorAvailable = true

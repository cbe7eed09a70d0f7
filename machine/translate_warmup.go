package machine

// translateAfter is the number of times runTranslated reaches a block
// before it translates it: until then the interpreter runs it. Most of
// the blocks of a program run only a few times (start-up, libc's set-up,
// error paths), and translating a block costs as much as interpreting
// a few hundred of its runs; without the wait the translator made every
// short corpus program slower than the interpreter. The package's tests
// set it to 1, so that every block they run is translated, but where
// they test the wait itself.
var translateAfter uint32 = defaultTranslateAfter

const defaultTranslateAfter = 32

// interpretFirst is the number of instructions EngineJIT has the
// interpreter run in each address space (a process, a fork's child, an
// exec'd program) before it starts the translator, counting nothing:
// a program that ends sooner costs what it costs the interpreter. Such
// a program's guest code takes a millisecond or two of a run whose
// start-up takes ten; translating its warm blocks, counting the runs of
// its cold ones and the translator's memory cost as much as its
// translated code saved, and more where they tipped the collector into
// one more cycle. The package's tests set it to 0.
var interpretFirst uint64 = defaultInterpretFirst

const defaultInterpretFirst = 500_000

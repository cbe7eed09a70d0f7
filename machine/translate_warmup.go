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

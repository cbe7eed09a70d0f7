package machine

import (
	"os"
	"testing"
)

// TestMain has the translator start at once and translate every block
// the first time it is reached, so that the tests comparing the engines
// run translated code and not the interpreter, which runs cold blocks.
func TestMain(m *testing.M) {
	translateAfter, interpretFirst = 1, 0
	os.Exit(m.Run())
}

// TranslateAfter sets how many times the translator reaches a block
// before it translates it, for a test of the wait, and returns what
// restores the setting.
func TranslateAfter(n uint32) (restore func()) {
	old := translateAfter
	translateAfter = n
	return func() { translateAfter = old }
}

// DefaultTranslateAfter is translateAfter outside the tests.
const DefaultTranslateAfter = defaultTranslateAfter

// InterpretFirst sets how many instructions EngineJIT interprets in an
// address space before it starts the translator, for a test of the
// defaults, and returns what restores the setting.
func InterpretFirst(n uint64) (restore func()) {
	old := interpretFirst
	interpretFirst = n
	return func() { interpretFirst = old }
}

// DefaultInterpretFirst is interpretFirst outside the tests.
const DefaultInterpretFirst = defaultInterpretFirst

package machine

import (
	"os"
	"testing"
)

// TestMain has the translator translate every block the first time it is
// reached, so that the tests comparing the engines run translated code
// and not the interpreter, which runs cold blocks.
func TestMain(m *testing.M) {
	translateAfter = 1
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

//go:build !(linux && amd64)

package machine

import "time"

// translator is the binary translator, which only linux/amd64 has.
type translator struct{ blocks map[uint64]uintptr }

func (t *translator) invalidate(first, last uint32) {}

// runTranslated is the interpreter where there is no translator.
func (c *CPU) runTranslated(budget uint64) Stop { return c.interpret(budget) }

// translatorAvailable says whether EngineJIT translates on this host.
const translatorAvailable = false

// TranslationStats reports no blocks: nothing is translated here.
func TranslationStats() (blocks uint64, spent time.Duration) { return 0, 0 }

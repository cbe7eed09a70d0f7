package machine

import "fmt"

// Engine selects how Run executes guest code. Both retire the same
// instructions with the same effects: Run(n) stops after exactly n
// instructions, and the state hashes agree, whichever engine ran.
type Engine uint8

const (
	// EngineInterp is the interpreter.
	EngineInterp Engine = iota
	// EngineJIT translates basic blocks to host code (on linux/amd64;
	// elsewhere it is the interpreter) and runs what it does not
	// translate with the interpreter.
	EngineJIT
)

// DefaultEngine is the engine programs run with unless told otherwise:
// the translator where there is one, else the interpreter.
var DefaultEngine = defaultEngine()

func defaultEngine() Engine {
	if translatorAvailable {
		return EngineJIT
	}
	return EngineInterp
}

var engineNames = [...]string{EngineInterp: "interp", EngineJIT: "jit"}

func (e Engine) String() string {
	if int(e) < len(engineNames) {
		return engineNames[e]
	}
	return fmt.Sprintf("engine(%d)", e)
}

// ParseEngine returns the engine named s ("interp" or "jit").
func ParseEngine(s string) (Engine, error) {
	for e, name := range engineNames {
		if s == name {
			return Engine(e), nil
		}
	}
	return 0, fmt.Errorf("unknown engine %q (want interp or jit)", s)
}

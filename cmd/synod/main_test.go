package main

import (
	"os"
	"testing"
)

// runAsSynodEnv, set to 1 in a child's environment, makes the test binary
// behave as the synod command: the tests exec themselves (os.Args[0]) to
// run guests through `synod run` without building the binary first.
const runAsSynodEnv = "SYNOD_TEST_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(runAsSynodEnv) == "1" {
		if len(os.Args) > 1 && os.Args[1] == "run" {
			// synod run hands its environment to the guest, which
			// should see what the real binary's guest sees; it starts
			// no synod of its own that would need the variable.
			os.Unsetenv(runAsSynodEnv)
		}
		main()
		os.Exit(0)
	}
	code := m.Run()
	printFaultTable(os.Stdout)
	os.Exit(code)
}

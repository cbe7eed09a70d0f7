package main

import "github.com/synodvm/synod/machine"

// engineUsage is the help of --engine, the same for run, node and up.
const engineUsage = "how guest code runs: `interp` (the interpreter) or jit (translated to host code on linux/amd64; elsewhere the interpreter)"

// engineFlag is a machine.Engine as a flag's value.
type engineFlag struct{ machine.Engine }

func (e *engineFlag) Set(s string) error {
	engine, err := machine.ParseEngine(s)
	if err != nil {
		return err
	}
	e.Engine = engine
	return nil
}

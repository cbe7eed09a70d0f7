package main

import "github.com/synodvm/synod/machine"

// engineUsage is the help of --engine, the same for run, node and up.
const engineUsage = "the `engine` that runs guest code: jit (translated to host code; the default on linux/amd64) or interp (the interpreter; the default elsewhere)"

// engineFlag is a machine.Engine as a flag's value; newEngineFlag gives
// it its default.
type engineFlag struct{ machine.Engine }

func newEngineFlag() engineFlag { return engineFlag{machine.DefaultEngine} }

func (e *engineFlag) Set(s string) error {
	engine, err := machine.ParseEngine(s)
	if err != nil {
		return err
	}
	e.Engine = engine
	return nil
}

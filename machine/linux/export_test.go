package linux

import "github.com/synodvm/synod/machine"

// MainCPU exposes the first thread's CPU to the external tests.
func MainCPU(p *Process) *machine.CPU { return p.threads[0].cpu }

package linux_test

import (
	"testing"

	"github.com/synodvm/synod/machine/linux"
	"github.com/synodvm/synod/machine/linux/memenv"
)

func BenchmarkLoad(b *testing.B) {
	bin := readTestdata(b, "startregs")
	for b.Loop() {
		if _, err := linux.Load(bin, linux.Config{Argv: []string{"x"}}, memenv.New(1)); err != nil {
			b.Fatal(err)
		}
	}
}

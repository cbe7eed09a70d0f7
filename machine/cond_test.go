package machine

import (
	"math/rand/v2"
	"testing"
)

// The conditions as the architecture manual states them, one test each.

func subReference(c uint8, a, b uint32) bool {
	switch c {
	case 1:
		return a == b
	case 2:
		return int32(a) < int32(b)
	case 3:
		return int32(a) <= int32(b)
	case 4:
		return a < b
	case 5:
		return a <= b
	case 6:
		return subOverflow(a, b, a-b)
	case 7:
		return (a-b)&1 != 0
	}
	return false
}

func sumReference(c uint8, res uint32, carry, overflow bool) bool {
	switch c {
	case 1:
		return res == 0
	case 2:
		return int32(res) < 0 != overflow
	case 3:
		return int32(res) < 0 != overflow || res == 0
	case 4:
		return !carry
	case 5:
		return !carry || res == 0
	case 6:
		return overflow
	case 7:
		return res&1 != 0
	}
	return false
}

func TestConditionsMatchTheManual(t *testing.T) {
	edges := []uint32{0, 1, 2, 0x7fffffff, 0x80000000, 0x80000001, 0xfffffffe, 0xffffffff}
	operands := append([]uint32(nil), edges...)
	r := rand.New(rand.NewPCG(1, 2))
	for range 200 {
		operands = append(operands, r.Uint32())
	}
	for cf := range uint8(16) {
		c, negate := cf>>1, cf&1 != 0
		for _, a := range operands {
			for _, b := range edges {
				if got, want := holds(cf, subOutcome(a, b)), subReference(c, a, b) != negate; got != want {
					t.Fatalf("cf %d: %#x - %#x gives %v, want %v", cf, a, b, got, want)
				}
				s := uint64(a) + uint64(b)
				res, carry, overflow := uint32(s), s>>32 != 0, addOverflow(a, b, uint32(s))
				if got, want := holds(cf, sumOutcome(res, carry, overflow)), sumReference(c, res, carry, overflow) != negate; got != want {
					t.Fatalf("cf %d: %#x + %#x gives %v, want %v", cf, a, b, got, want)
				}
				if got, want := addOutcome(a, b), sumOutcome(res, carry, overflow); got != want {
					t.Fatalf("%#x + %#x: outcome %#x, want %#x", a, b, got, want)
				}
			}
		}
	}
}

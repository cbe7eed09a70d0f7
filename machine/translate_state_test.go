//go:build linux && amd64

package machine

import (
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
)

// TestStateLayout checks the offsets generated code uses against the
// structs it reads.
func TestStateLayout(t *testing.T) {
	tests := []struct {
		name      string
		got, want uintptr
	}{
		{"cachedPage size", unsafe.Sizeof(cachedPage{}), cachedPageSize},
		{"cachedPage.data", unsafe.Offsetof(cachedPage{}.data), cachedPageData},
		{"gr", unsafe.Offsetof(guestState{}.gr), stGR},
		{"sar", unsafe.Offsetof(guestState{}.sar), stSAR},
		{"carryIn", unsafe.Offsetof(guestState{}.carryIn), stCarryIn},
		{"carryOut", unsafe.Offsetof(guestState{}.carryOut), stCarryOut},
		{"divStep", unsafe.Offsetof(guestState{}.divStep), stDivStep},
		{"front", unsafe.Offsetof(guestState{}.front), stFront},
		{"back", unsafe.Offsetof(guestState{}.back), stBack},
		{"nullify", unsafe.Offsetof(guestState{}.nullify), stNullify},
		{"budget", unsafe.Offsetof(guestState{}.budget), stBudget},
		{"loads", unsafe.Offsetof(guestState{}.loads), stLoads},
		{"stores", unsafe.Offsetof(guestState{}.stores), stStores},
		{"table", unsafe.Offsetof(guestState{}.table), stTable},
		{"fr", unsafe.Offsetof(guestState{}.fr), stFR},
		{"savedR14", unsafe.Offsetof(guestState{}.savedR14), stSavedR14},
		{"savedR15", unsafe.Offsetof(guestState{}.savedR15), stSavedR15},
		{"reusePage", unsafe.Offsetof(guestState{}.reusePage), stReusePage},
		{"threadCR", unsafe.Offsetof(guestState{}.threadCR), stThreadCR},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, tt.got, tt.name)
	}
}

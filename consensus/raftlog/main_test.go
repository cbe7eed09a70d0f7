package raftlog

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if a test leaves a goroutine behind: Stop must
// end everything a Node started.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

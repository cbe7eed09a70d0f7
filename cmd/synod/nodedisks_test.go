package main

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/synodvm/synod/peripherals"
	"github.com/synodvm/synod/peripherals/disk"
)

// The guest gets an errno for every definite outcome, and nothing yet
// for an uncertain one: the node sends that again.
func TestDiskOutcomesTheGuestSees(t *testing.T) {
	tests := []struct {
		err   error
		errno uint32 // 0: left uncertain
	}{
		{&disk.StatusError{Op: disk.OpWrite, Status: disk.StatusIOError, Text: "bad sector"}, peripherals.ErrnoEIO},
		{&disk.StatusError{Op: disk.OpWrite, Status: disk.StatusOutOfRange}, peripherals.ErrnoENOSPC},
		{&disk.StatusError{Op: disk.OpRead, Status: disk.StatusTooLarge}, peripherals.ErrnoEINVAL},
		{fmt.Errorf("dial: %w", disk.ErrNotSent), peripherals.ErrnoEIO},
		{fmt.Errorf("read: %w", disk.ErrUncertain), 0},
	}
	for _, tt := range tests {
		var de *peripherals.DiskError
		got := guestError(tt.err)
		if tt.errno == 0 {
			assert.False(t, errors.As(got, &de), "%v is uncertain", tt.err)
			continue
		}
		if assert.True(t, errors.As(got, &de), "%v", tt.err) {
			assert.Equal(t, tt.errno, de.Errno, "%v", tt.err)
		}
	}
}

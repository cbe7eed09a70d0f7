package replica

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSealerKeepsBusyGuestAhead(t *testing.T) {
	s := Sealer{Window: 16, Retry: 100}
	busy := SealInfo{Epoch: 10, Highest: 12, Busy: true}

	_, ok := s.Next(busy, false, 0)
	require.False(t, ok, "only the leader keeps the window")

	seal, ok := s.Next(busy, true, 0)
	require.True(t, ok)
	require.Equal(t, uint64(26), seal.Through)
	require.Equal(t, int64(0), seal.Time)

	busy.Epoch = 11
	_, ok = s.Next(busy, true, 1)
	require.False(t, ok, "the seal in flight already covers the window")

	_, ok = s.Next(busy, true, 150)
	require.True(t, ok, "a seal not committed after Retry is presumed lost")

	busy.Highest = 27
	_, ok = s.Next(busy, true, 400)
	require.False(t, ok, "committed seals far enough ahead")
}

func TestSealerSealsIdleInput(t *testing.T) {
	s := Sealer{Window: 16, Retry: 100}
	idle := SealInfo{Epoch: 31, Highest: 30}

	_, ok := s.Next(idle, true, 0)
	require.False(t, ok, "idle with nothing waiting: no seal")

	idle.Unsealed = true
	_, ok = s.Next(idle, false, 0)
	require.False(t, ok, "followers leave it to the leader")
	seal, ok := s.Next(idle, true, 5)
	require.True(t, ok)
	require.Equal(t, uint64(31), seal.Through, "the very next epoch")
	_, ok = s.Next(idle, true, 6)
	require.False(t, ok, "not twice while in flight")
}

func TestSealerWakesSleepers(t *testing.T) {
	s := Sealer{Window: 16, Retry: 100}
	idle := SealInfo{Epoch: 5, Highest: 4, Deadline: 1000}
	_, ok := s.Next(idle, true, 999)
	require.False(t, ok)
	seal, ok := s.Next(idle, true, 1000)
	require.True(t, ok)
	require.Equal(t, SealInfo{}.Epoch+5, seal.Through)
	require.Equal(t, int64(1000), seal.Time)
}

// sealBusyGuest runs a busy guest through epochs 1..epochs with s as its
// leader's sealer, every proposed seal committing at once, and returns
// the Through of each seal proposed. Input commits at the end of each
// epoch in inputAt, with its own relative seal.
func sealBusyGuest(s *Sealer, epochs uint64, inputAt ...uint64) []uint64 {
	var throughs []uint64
	info := SealInfo{Busy: true}
	for e := uint64(1); e <= epochs; e++ {
		info.Epoch = e
		if seal, ok := s.Next(info, true, int64(e)); ok {
			throughs = append(throughs, seal.Through)
			info.Highest = max(info.Highest, seal.Through)
		}
		if slices.Contains(inputAt, e) {
			info.Inputs++
			info.Highest++
		}
	}
	return throughs
}

func TestSealerWindowAdaptsToInput(t *testing.T) {
	for _, tc := range []struct {
		name      string
		max       uint64
		inputAt   []uint64
		wantSeals []uint64
	}{{
		name:      "a fixed window tops up every W/2 epochs",
		max:       0,
		wantSeals: []uint64{5, 8, 11, 14, 17, 20, 23, 26, 29, 32},
	}, {
		name:      "while no input comes the window doubles at each top-up, up to MaxWindow",
		max:       16,
		wantSeals: []uint64{5, 12, 25, 34, 43},
	}, {
		name:      "a bound below the window leaves the window as it is",
		max:       2,
		wantSeals: []uint64{5, 8, 11, 14, 17, 20, 23, 26, 29, 32},
	}, {
		name: "input brings the window back to W at the next top-up, and it grows again after",
		max:  16,
		// The input at epoch 12 lands after the seal through 25; the
		// top-up after it keeps W, the next one doubles again.
		inputAt:   []uint64{12},
		wantSeals: []uint64{5, 12, 25, 29, 36},
	}, {
		name: "input at every top-up keeps the window at W",
		max:  16,
		// Each lands behind the seal through e+W and raises it by one.
		inputAt:   []uint64{2, 5, 9, 13, 17, 21, 25},
		wantSeals: []uint64{5, 9, 13, 17, 21, 25, 29, 33},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			s := Sealer{Window: 4, MaxWindow: tc.max, Retry: 100}
			require.Equal(t, tc.wantSeals, sealBusyGuest(&s, 30, tc.inputAt...))
		})
	}
}

func TestSealerFollowerTracksInputForWhenItLeads(t *testing.T) {
	s := Sealer{Window: 4, MaxWindow: 64, Retry: 100}
	sealBusyGuest(&s, 30)
	require.Equal(t, uint64(32), s.busyWindow(), "grown while no input came")
	_, ok := s.Next(SealInfo{Epoch: 31, Highest: 40, Busy: true, Inputs: 1}, false, 31)
	require.False(t, ok)
	require.Equal(t, uint64(4), s.busyWindow(), "input seen as a follower resets the window it will lead with")
}

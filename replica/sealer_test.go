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
// for each seal proposed how many epochs ahead it sealed. Input commits
// at the end of each epoch in inputAt, with its own relative seal.
func sealBusyGuest(s *Sealer, epochs uint64, inputAt ...uint64) []uint64 {
	return sealGuest(s, SealInfo{Busy: true}, epochs, 0, inputAt...)
}

// sealGuest is sealBusyGuest from info, where a guest Unreachable at
// the start becomes reachable at the end of epoch reachableAt, if not 0.
func sealGuest(s *Sealer, info SealInfo, epochs, reachableAt uint64, inputAt ...uint64) []uint64 {
	var ahead []uint64
	for e := uint64(1); e <= epochs; e++ {
		if e == reachableAt+1 && reachableAt > 0 {
			info.Unreachable = false
		}
		info.Epoch = e
		if seal, ok := s.Next(info, true, int64(e)); ok {
			ahead = append(ahead, seal.Through-e)
			info.Highest = max(info.Highest, seal.Through)
		}
		if slices.Contains(inputAt, e) {
			info.Traffic++
			info.Highest++
		}
	}
	return ahead
}

func TestSealerWindowAdaptsToTraffic(t *testing.T) {
	for _, tc := range []struct {
		name      string
		max       uint64
		inputAt   []uint64
		wantAhead []uint64
	}{{
		name: "a fixed window tops up a quarter of W before its reach",
		max:  0,
		// Half of W in the first W epochs: this node cannot tell whether
		// anyone talked to the guest before it started.
		wantAhead: slices.Repeat([]uint64{4}, 26),
	}, {
		name:      "while no input comes the window grows to a quarter of the quiet epochs, up to MaxWindow",
		max:       16,
		wantAhead: []uint64{4, 4, 4, 4, 4, 4, 5, 7, 8, 10, 12, 14, 16, 16, 16},
	}, {
		name:      "a bound below the window leaves the window as it is",
		max:       2,
		wantAhead: slices.Repeat([]uint64{4}, 26),
	}, {
		name: "input brings the window back to W, and it grows again after",
		max:  16,
		// The input at epoch 60 lands behind the seal proposed 14 ahead.
		inputAt:   []uint64{60},
		wantAhead: []uint64{4, 4, 4, 4, 4, 4, 5, 7, 8, 10, 12, 14, 4, 4, 5, 6, 8, 9},
	}, {
		name:      "input every 16 epochs keeps the window at W",
		max:       16,
		inputAt:   []uint64{16, 32, 48, 64, 80, 96},
		wantAhead: slices.Repeat([]uint64{4}, 26),
	}} {
		t.Run(tc.name, func(t *testing.T) {
			s := Sealer{Window: 4, MaxWindow: tc.max, Retry: 100}
			require.Equal(t, tc.wantAhead, sealBusyGuest(&s, 100, tc.inputAt...))
		})
	}
}

// A busy guest that nothing outside can send input to is sealed up to
// UnreachedWindow ahead, though MaxWindow is off; once something can
// reach it (a port it listens on, say), the next seal is W ahead again.
func TestSealerSealsAGuestNothingCanReachFarAhead(t *testing.T) {
	for _, tc := range []struct {
		name        string
		unreachable bool
		reachableAt uint64
		wantAhead   []uint64
	}{{
		name:      "a reachable guest keeps the window W",
		wantAhead: slices.Repeat([]uint64{4}, 26),
	}, {
		name:        "an unreachable guest's window grows with the quiet epochs, up to UnreachedWindow",
		unreachable: true,
		wantAhead:   []uint64{4, 4, 4, 4, 4, 4, 5, 7, 8, 10, 12, 14, 16, 16, 16},
	}, {
		name:        "a guest that becomes reachable is sealed W ahead at the next top-up",
		unreachable: true,
		reachableAt: 60,
		// The last seal proposed before epoch 60 reaches 14 ahead; every
		// one after it, W.
		wantAhead: append([]uint64{4, 4, 4, 4, 4, 4, 5, 7, 8, 10, 12, 14}, slices.Repeat([]uint64{4}, 7)...),
	}} {
		t.Run(tc.name, func(t *testing.T) {
			s := Sealer{Window: 4, UnreachedWindow: 16, Retry: 100}
			got := sealGuest(&s, SealInfo{Busy: true, Unreachable: tc.unreachable}, 100, tc.reachableAt)
			require.Equal(t, tc.wantAhead, got)
		})
	}
}

// The leader renews a busy guest's seals at a quarter of the window
// before their reach while nobody talks to it, and at half while
// someone does: the guest's answers would wait for every seal that
// comes late.
func TestSealerTopsUpEarlierWhileTheGuestIsTalkedTo(t *testing.T) {
	s := Sealer{Window: 16, Retry: 100}
	talked := SealInfo{Epoch: 100, Highest: 107, Busy: true, Traffic: 1}
	seal, ok := s.Next(talked, true, 0)
	require.True(t, ok, "7 epochs ahead is within half the window")
	require.Equal(t, uint64(116), seal.Through)

	quiet := SealInfo{Epoch: 120, Highest: 127, Busy: true, Traffic: 1}
	_, ok = s.Next(quiet, true, 1000)
	require.False(t, ok, "nobody talked for 20 epochs: 7 ahead is enough")
	quiet.Highest = 123
	seal, ok = s.Next(quiet, true, 1000)
	require.True(t, ok, "3 epochs ahead is within a quarter of the window")
	require.Equal(t, uint64(136), seal.Through)
}

func TestSealerFollowerTracksTrafficForWhenItLeads(t *testing.T) {
	s := Sealer{Window: 4, MaxWindow: 64, Retry: 100}
	sealBusyGuest(&s, 100)
	require.Equal(t, uint64(24), s.busyWindow(SealInfo{Epoch: 100}), "grown while no input came")
	_, ok := s.Next(SealInfo{Epoch: 101, Highest: 120, Busy: true, Traffic: 1}, false, 101)
	require.False(t, ok)
	require.Equal(t, uint64(4), s.busyWindow(SealInfo{Epoch: 101}), "input seen as a follower resets the window it will lead with")
}

// The leader's node runs a busy guest through as many epochs in one call
// as its sealer can wait: up to the epoch where it tops seals up, which
// then still come a quarter of a window ahead. A follower's sealer never needs
// to see a busy guest; an idle guest, or one somebody talked to within a
// window, goes one epoch a call.
func TestSealerSaysHowManyEpochsItCanWait(t *testing.T) {
	s := Sealer{Window: 16, Retry: 100}
	busy := SealInfo{Epoch: 100, Highest: 120, Busy: true, Traffic: 3}
	_, ok := s.Next(busy, true, 0)
	require.False(t, ok)
	require.Equal(t, uint64(1), s.Unneeded(busy, true, 0), "the guest was just talked to")

	busy.Epoch = 116
	busy.Highest = 140
	require.Equal(t, uint64(21), s.Unneeded(busy, true, 0), "through epoch 136, a quarter of a window before 140")
	busy.Epoch += 21
	_, ok = s.Next(busy, true, 1)
	require.True(t, ok, "the epoch it returns at is the one to top up at")

	require.Greater(t, s.Unneeded(busy, false, 0), uint64(1<<32), "a follower proposes no seal for a busy guest")
	busy.Busy = false
	require.Equal(t, uint64(1), s.Unneeded(busy, false, 0), "an idle guest's seals follow its input and sleepers")
	busy.Busy, busy.Traffic = true, 4
	_, _ = s.Next(busy, false, 2)
	require.Equal(t, uint64(1), s.Unneeded(busy, false, 0), "new traffic")
}

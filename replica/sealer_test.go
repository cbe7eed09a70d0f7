package replica

import (
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

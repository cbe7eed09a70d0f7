package replica

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/synodvm/synod/consensus/entry"
)

func data(s string) entry.Entry {
	return entry.ConnData{Conn: entry.ConnID{Node: 1, Serial: 1}, Data: []byte(s)}
}

func seal(through uint64) entry.Entry { return entry.Seal{Through: through} }

// indexes lists the log indexes of a batch, the observable result of a cut.
func indexes(batch []committed) []uint64 {
	var out []uint64
	for _, c := range batch {
		out = append(out, c.index)
	}
	return out
}

func TestScheduleSealRule(t *testing.T) {
	// Log: 1 seal(3), 2 A, 3 B, 4 seal(2) ignored, 5 seal(5), 6 C
	var s schedule
	for i, e := range []entry.Entry{seal(3), data("A"), data("B"), seal(2), seal(5), data("C")} {
		s.add(uint64(i+1), e)
	}
	steps := []struct {
		epoch uint64
		want  []uint64
		ok    bool
	}{
		{1, nil, true},                  // seal(3) decides epochs 1..3: nothing precedes it
		{2, nil, true},                  //
		{3, nil, true},                  //
		{4, []uint64{1, 2, 3, 4}, true}, // seal(5) decides: deliver everything before it
		{5, nil, true},
		{6, nil, false}, // no seal >= 6 yet: wait
	}
	for _, st := range steps {
		batch, ok := s.cut(st.epoch)
		require.Equal(t, st.ok, ok, "epoch %d", st.epoch)
		require.Equal(t, st.want, indexes(batch), "epoch %d", st.epoch)
	}
	s.add(7, seal(9))
	batch, ok := s.cut(6)
	require.True(t, ok)
	require.Equal(t, []uint64{5, 6}, indexes(batch))
}

func TestScheduleIgnoresSealsThatDoNotRaiseThrough(t *testing.T) {
	var s schedule
	s.add(1, seal(4))
	s.add(2, seal(4))
	s.add(3, seal(1))
	require.Equal(t, uint64(4), s.highest)
	require.IsType(t, entry.Seal{}, s.queue[0].e)
	require.Nil(t, s.queue[1].e)
	require.Nil(t, s.queue[2].e)
}

// A replica that receives the log in different chunks, and waits at
// different moments, must deliver the same entries at the same epochs.
func TestScheduleIndependentOfArrival(t *testing.T) {
	log := []entry.Entry{seal(2), data("A"), seal(4), data("B"), data("C"), seal(5), seal(9), data("D"), seal(10), inputs("E", "F")}
	deliveries := func(chunk int) map[uint64][]uint64 {
		var s schedule
		got := map[uint64][]uint64{}
		next := 0
		for epoch := uint64(1); epoch <= 11; {
			batch, ok := s.cut(epoch)
			if !ok {
				if next == len(log) {
					break
				}
				for i := 0; i < chunk && next < len(log); i++ {
					s.add(uint64(next+1), log[next])
					next++
				}
				continue
			}
			if len(batch) > 0 {
				got[epoch] = indexes(batch)
			}
			epoch++
		}
		return got
	}
	want := deliveries(len(log))
	require.Equal(t, map[uint64][]uint64{3: {1, 2}, 5: {3, 4, 5}, 6: {6}, 10: {7, 8}, 11: {9, 10, 10, 10}}, want)
	for chunk := 1; chunk < len(log); chunk++ {
		require.Equal(t, want, deliveries(chunk), "chunk %d", chunk)
	}
}

func TestScheduleSkip(t *testing.T) {
	var s schedule
	require.Equal(t, uint64(3), s.skip(3), "empty queue: nothing to skip to")
	s.add(1, seal(7))
	require.Equal(t, uint64(8), s.skip(3), "epochs 3..7 deliver nothing")
	s.add(2, data("A"))
	s.add(3, seal(8))
	require.Equal(t, uint64(8), s.skip(3))
	batch, ok := s.cut(8)
	require.True(t, ok)
	require.Equal(t, []uint64{1, 2}, indexes(batch))
	require.Equal(t, uint64(9), s.skip(8), "nothing precedes seal(8): epoch 8 delivers nothing")
}

func inputs(ss ...string) entry.Entry {
	var in entry.Inputs
	for _, s := range ss {
		in.Entries = append(in.Entries, data(s))
	}
	return in
}

// An Inputs batch seals itself one epoch past the highest seal, whatever
// its proposer believed, and is delivered whole, closing seal included.
func TestScheduleInputsSealThemselves(t *testing.T) {
	var s schedule
	s.add(1, seal(4))
	s.add(2, inputs("A", "B"))
	s.add(3, inputs("C"))
	s.add(4, seal(5)) // ignored: the batches raised the highest seal to 6
	require.Equal(t, uint64(6), s.highest)
	require.False(t, s.unsealed())

	batch, ok := s.cut(4)
	require.True(t, ok)
	require.Empty(t, batch, "seal(4) decides epochs up to 4")
	batch, ok = s.cut(5)
	require.True(t, ok)
	require.Equal(t, []uint64{1, 2, 2, 2}, indexes(batch), "seal(4), A, B and the batch's own seal(5)")
	require.Equal(t, entry.Seal{Through: 5}, batch[3].e)
	batch, ok = s.cut(6)
	require.True(t, ok)
	require.Equal(t, []uint64{3, 3}, indexes(batch))
	_, ok = s.cut(7)
	require.False(t, ok, "the ignored seal(5) decides nothing")
}

// A completion seals itself like an Inputs batch: the guest waiting for
// it gets it one epoch after the highest seal, with no seal of its own.
func TestScheduleCompletionsSealThemselves(t *testing.T) {
	var s schedule
	s.add(1, seal(2))
	done := entry.Completion{Node: 1, Seq: 9, N: 4096}
	s.add(2, done)
	require.Equal(t, uint64(3), s.highest)
	require.False(t, s.unsealed())
	batch, ok := s.cut(3)
	require.True(t, ok)
	require.Equal(t, []uint64{1, 2, 2}, indexes(batch))
	require.Equal(t, done, batch[1].e)
	require.Equal(t, entry.Seal{Through: 3}, batch[2].e, "its own seal, which leaves the clock as it is")
}

func TestScheduleUnsealed(t *testing.T) {
	var s schedule
	require.False(t, s.unsealed())
	s.add(1, data("A"))
	require.True(t, s.unsealed())
	s.add(2, seal(3))
	require.False(t, s.unsealed())
	s.add(3, data("B"))
	s.add(4, seal(1)) // ignored: does not cover B
	require.True(t, s.unsealed())
}

func TestScheduleCountsWhatSomeoneWaitsOn(t *testing.T) {
	var s schedule
	for i, e := range []entry.Entry{
		seal(3), entry.StateHash{Node: 1, Epoch: 2}, entry.ConsoleDone{Node: 1, Seq: 4}, nil,
	} {
		s.add(uint64(i+1), e)
	}
	require.Zero(t, s.inputs, "seals, state hashes and console acknowledgements wait on nobody")
	for i, e := range []entry.Entry{
		entry.Inputs{Entries: []entry.Entry{data("A"), data("B")}}, entry.Completion{Node: 1, Seq: 1},
		entry.Random{Node: 2, Data: []byte{1}}, entry.NodeDown{Node: 3},
	} {
		s.add(uint64(i+5), e)
	}
	require.Equal(t, uint64(4), s.inputs, "one per log entry a client or guest thread may wait on")
}

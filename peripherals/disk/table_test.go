package disk

import (
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func ok(n uint64) result { return result{status: StatusOK, value: n} }

func TestSeqTable(t *testing.T) {
	tab := newSeqTable(3, 2)
	for seq := uint64(10); seq < 14; seq++ {
		require.True(t, tab.check("a", seq, uint32(seq)).apply)
		tab.record("a", keptResult{seq: seq, digest: uint32(seq), result: ok(seq)})
	}
	for _, tc := range []struct {
		name   string
		client string
		seq    uint64
		digest uint32
		want   verdict
	}{
		{"a replay gets its first answer", "a", 12, 12, verdict{answer: ok(12)}},
		{"a new seq is applied", "a", 20, 20, verdict{apply: true}},
		{"the oldest kept still gets its answer", "a", 11, 11, verdict{answer: ok(11)}},
		{"the oldest beyond the bound is forgotten", "a", 10, 10, verdict{answer: result{status: StatusForgotten}}},
		{"a seq never seen below the bound is forgotten too", "a", 3, 3, verdict{answer: result{status: StatusForgotten}}},
		{"the same seq for another write conflicts", "a", 12, 99, verdict{answer: result{status: StatusConflict}}},
		{"another client is new", "b", 12, 12, verdict{apply: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := tab.check(tc.client, tc.seq, tc.digest)
			got.answer.text = ""
			if tc.want.answer.status != StatusOK {
				got.answer.value = 0
			}
			assert.Equal(t, tc.want, got)
		})
	}
	tab.record("b", keptResult{seq: 1, result: ok(1)})
	v := tab.check("c", 1, 1)
	assert.Equal(t, StatusRefused, v.answer.status, "a third client is over the bound")
	assert.False(t, v.apply)
}

func openTestJournal(t *testing.T, path string) (*seqTable, *journal) {
	t.Helper()
	tab := newSeqTable(maxBatch, 8)
	j, err := openJournal(path, tab, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	t.Cleanup(func() { j.close() })
	return tab, j
}

func TestJournalSurvivesReopening(t *testing.T) {
	path := filepath.Join(t.TempDir(), "img.seqs")
	tab, j := openTestJournal(t, path)
	kept := []keptResult{
		{seq: 1, digest: 11, result: ok(4096)},
		{seq: 2, digest: 22, result: result{status: StatusIOError, text: "write at 0: input/output error"}},
	}
	require.NoError(t, j.appendResults([]string{"a", "b"}, kept))
	tab.record("a", kept[0])
	tab.record("b", kept[1])
	require.NoError(t, j.close())

	again, _ := openTestJournal(t, path)
	assert.Equal(t, tab.clients, again.clients)
}

func TestJournalCompaction(t *testing.T) {
	path := filepath.Join(t.TempDir(), "img.seqs")
	tab, j := openTestJournal(t, path)
	for seq := range uint64(3 * maxBatch) {
		k := keptResult{seq: seq, digest: uint32(seq), result: ok(512)}
		tab.record("a", k)
		require.NoError(t, j.appendResults([]string{"a"}, []keptResult{k}))
	}
	before, err := os.Stat(path)
	require.NoError(t, err)
	require.NoError(t, j.compact(tab))
	after, err := os.Stat(path)
	require.NoError(t, err)
	assert.Less(t, after.Size(), before.Size())

	k := keptResult{seq: 1000, digest: 1000, result: ok(1)}
	tab.record("a", k)
	require.NoError(t, j.appendResults([]string{"a"}, []keptResult{k}), "appends go to the new file")
	require.NoError(t, j.close())
	again, _ := openTestJournal(t, path)
	assert.Equal(t, tab.clients, again.clients)
	assert.Equal(t, StatusForgotten, again.check("a", 5, 5).answer.status, "what was forgotten stays forgotten")
}

func TestJournalDamage(t *testing.T) {
	record := appendRecord(nil, recordResult, "a", 1, &keptResult{seq: 1, digest: 1, result: ok(1)})
	good := append(append([]byte(nil), journalMagic...), record...)
	for _, tc := range []struct {
		name    string
		content []byte
		err     string // empty: opens, with the good record only
	}{
		{"a record torn short", append(append([]byte(nil), good...), record[:len(record)-2]...), ""},
		{"a torn length", append(append([]byte(nil), good...), 0, 0), ""},
		{"zeros where the file grew", append(append([]byte(nil), good...), make([]byte, 100)...), ""},
		{"a damaged record before a good one", func() []byte {
			b := append(append([]byte(nil), good...), good[len(journalMagic):]...)
			b[len(journalMagic)+6] ^= 0xff
			return b
		}(), "damaged record at offset 8"},
		{"another file", []byte("#!/bin/sh\necho hello\n"), "is not a disk server's sequence table"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "img.seqs")
			require.NoError(t, os.WriteFile(path, tc.content, 0o644))
			tab := newSeqTable(maxBatch, 8)
			j, err := openJournal(path, tab, slog.New(slog.DiscardHandler))
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			defer j.close()
			assert.Equal(t, ok(1), tab.check("a", 1, 1).answer)
			b, err := os.ReadFile(path)
			require.NoError(t, err)
			assert.Equal(t, good, b, "the torn tail is cut off")
		})
	}
}

package sim

import (
	"testing"

	"github.com/anishathalye/porcupine"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseReply(t *testing.T) {
	tests := []struct {
		in   string
		want reply
		rest string
		err  string
	}{
		{in: "+OK\r\n$1\r\n", want: reply{status: "OK"}, rest: "$1\r\n"},
		{in: "$2\r\nv1\r\n", want: reply{value: "v1"}},
		{in: "$-1\r\n", want: reply{null: true}},
		{in: "$0\r\n\r\n", want: reply{}},
		{in: "$5\r\nab", err: "incomplete reply"},
		{in: "+OK", err: "incomplete reply"},
		{in: "*1\r\n", err: "unexpected reply type"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, rest, err := parseReply([]byte(tt.in))
			if tt.err != "" {
				require.ErrorContains(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
			assert.Equal(t, tt.rest, string(rest))
		})
	}
}

func TestParseFaults(t *testing.T) {
	tests := []struct {
		in   string
		want FaultSet
		err  bool
	}{
		{in: "all", want: AllFaults},
		{in: "none", want: 0},
		{in: "crash,network", want: FaultCrash | FaultNetwork},
		{in: "disk,clock", want: FaultDisk | FaultClock},
		{in: "fire", err: true},
	}
	for _, tt := range tests {
		got, err := ParseFaults(tt.in)
		if tt.err {
			assert.Error(t, err, tt.in)
			continue
		}
		require.NoError(t, err, tt.in)
		assert.Equal(t, tt.want, got, tt.in)
		again, err := ParseFaults(got.String())
		require.NoError(t, err)
		assert.Equal(t, got, again, "String reads back")
	}
}

// TestLostWrites: the final reads must return a write that no
// acknowledged write made after it replaced.
func TestLostWrites(t *testing.T) {
	set := func(v string, call, ret int64) porcupine.Operation {
		return porcupine.Operation{Input: kvInput{set: true, key: "k", value: v}, Call: call, Return: ret}
	}
	get := func(v string, call int64) porcupine.Operation {
		return porcupine.Operation{Input: kvInput{key: "k"}, Output: kvOutput{value: v}, Call: call, Return: call + 1}
	}
	tests := []struct {
		name string
		ops  []porcupine.Operation
		lost int
	}{
		{"the last write", []porcupine.Operation{set("a", 1, 2), set("b", 3, 4), get("b", 10)}, 0},
		{"an older write", []porcupine.Operation{set("a", 1, 2), set("b", 3, 4), get("a", 10)}, 1},
		{"concurrent writes, either", []porcupine.Operation{set("a", 1, 4), set("b", 2, 5), get("a", 10)}, 0},
		{"nothing after an acknowledged write", []porcupine.Operation{set("a", 1, 2), get("(nil)", 10)}, 1},
		{"an unacknowledged write may win", []porcupine.Operation{set("a", 1, 2), set("b", 3, neverReturned), get("b", 10)}, 0},
		{"or be lost", []porcupine.Operation{set("a", 1, 2), set("b", 3, neverReturned), get("a", 10)}, 0},
		{"reads before the final ones do not count", []porcupine.Operation{set("a", 1, 2), get("(nil)", 0), set("b", 3, 4), get("b", 10)}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := history{ops: tt.ops}
			assert.Len(t, h.lostWrites(10), tt.lost)
		})
	}
}

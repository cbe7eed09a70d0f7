package sim

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/anishathalye/porcupine"
)

// history collects the clients' operations for the linearizability and
// lost-write checks. Times are the run's event stamps, which order every
// call and reply of the run strictly, so porcupine sees the real-time
// order exactly rather than to the millisecond.
type history struct {
	ops   []porcupine.Operation
	acked int
	stamp func() int64
}

// kvInput and kvOutput are the operations of the model: a register per key.
type kvInput struct {
	set        bool
	key, value string
}

type kvOutput struct {
	value string // for a get; "(nil)" when absent
}

// neverReturned is the return time of an operation whose outcome the
// client never learned: it may take effect at any time after its call.
const neverReturned = math.MaxInt64

// done records an operation the client saw answered.
func (h *history) done(client int, o op, r reply) {
	out := kvOutput{value: r.value}
	if r.null {
		out.value = "(nil)"
	}
	h.ops = append(h.ops, porcupine.Operation{ClientId: client, Input: input(o), Call: o.stamp, Output: out, Return: h.stamp()})
	h.acked++
}

// unknown records an operation whose reply never came. A set may or may
// not have happened, so it stays open to the end; a get constrains
// nothing and is dropped.
func (h *history) unknown(client int, o op) {
	if o.set {
		h.ops = append(h.ops, porcupine.Operation{ClientId: client, Input: input(o), Call: o.stamp, Output: kvOutput{}, Return: neverReturned})
	}
}

func input(o op) kvInput { return kvInput{set: o.set, key: o.key, value: o.value} }

var kvModel = porcupine.Model{
	Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
		byKey := map[string][]porcupine.Operation{}
		var keys []string
		for _, op := range history {
			k := op.Input.(kvInput).key
			if _, ok := byKey[k]; !ok {
				keys = append(keys, k)
			}
			byKey[k] = append(byKey[k], op)
		}
		var parts [][]porcupine.Operation
		for _, k := range keys {
			parts = append(parts, byKey[k])
		}
		return parts
	},
	Init: func() any { return "(nil)" },
	Step: func(state, input, output any) (bool, any) {
		in, out := input.(kvInput), output.(kvOutput)
		if in.set {
			return true, in.value
		}
		return out.value == state.(string), state
	},
	Equal: func(a, b any) bool { return a == b },
	DescribeOperation: func(input, output any) string {
		in, out := input.(kvInput), output.(kvOutput)
		if in.set {
			return fmt.Sprintf("set %s=%s", in.key, in.value)
		}
		return fmt.Sprintf("get %s -> %s", in.key, out.value)
	},
}

// linearizationBudget bounds porcupine's search. Histories of a run are
// small enough to finish far within it; one that does not is reported as
// inconclusive, never as a violation.
const linearizationBudget = time.Minute

// checkLinearizable reports whether the history is linearizable.
func (h *history) checkLinearizable() (ok bool, inconclusive bool) {
	switch porcupine.CheckOperationsTimeout(kvModel, h.ops, linearizationBudget) {
	case porcupine.Ok:
		return true, false
	case porcupine.Unknown:
		return true, true
	}
	return false, false
}

// lostWrites checks the final reads (the gets that returned after final)
// against the writes: each must return a value that no acknowledged write
// made before the value's own write began has replaced, and not "(nil)"
// once a write was acknowledged. It describes each lost write.
func (h *history) lostWrites(final int64) []string {
	var lost []string
	writes := map[string][]porcupine.Operation{} // by key
	for _, o := range h.ops {
		if in := o.Input.(kvInput); in.set {
			writes[in.key] = append(writes[in.key], o)
		}
	}
	for _, read := range h.ops {
		in := read.Input.(kvInput)
		if in.set || read.Call < final {
			continue
		}
		got := read.Output.(kvOutput).value
		ws := writes[in.key]
		src := slices.IndexFunc(ws, func(w porcupine.Operation) bool { return w.Input.(kvInput).value == got })
		for _, w := range ws {
			acked := w.Return != neverReturned
			switch {
			case !acked:
			case src < 0:
				lost = append(lost, fmt.Sprintf("%s=%s acknowledged, but a final read returned %s", in.key, w.Input.(kvInput).value, got))
			case w.Call > ws[src].Return:
				lost = append(lost, fmt.Sprintf("%s=%s acknowledged after %s=%s was, but a final read returned the older %s",
					in.key, w.Input.(kvInput).value, in.key, got, got))
			}
		}
	}
	slices.Sort(lost)
	return slices.Compact(lost)
}

package p2p

import (
	"errors"
	"slices"
	"sync/atomic"
	"testing"
	"time"
)

var benchSizes = []struct {
	name string
	size int
}{{"64B", 64}, {"1KiB", 1 << 10}}

// BenchmarkThroughput streams messages one way between two transports on
// loopback and reports messages per second. A full queue is the
// transport's back-pressure; the sender then yields briefly and retries,
// as a raft leader effectively does.
func BenchmarkThroughput(b *testing.B) {
	for _, sz := range benchSizes {
		b.Run(sz.name, func(b *testing.B) {
			n1, n2 := benchPair(b)
			msg := make([]byte, sz.size)
			var received atomic.Int64
			go func() {
				for range n2.Inbound() {
					received.Add(1)
				}
			}()
			b.SetBytes(int64(sz.size))
			sent := 0
			begin := time.Now()
			for b.Loop() {
				for {
					err := n1.Send(2, slices.Clone(msg))
					if err == nil {
						break
					}
					if !errors.Is(err, ErrQueueFull) {
						b.Fatal(err)
					}
					time.Sleep(20 * time.Microsecond)
				}
				sent++
			}
			// msgs/s counts until the last message has arrived (b.Loop
			// stops its own clock when the sending ends).
			deadline := time.Now().Add(patience)
			for received.Load() < int64(sent) && time.Now().Before(deadline) {
				time.Sleep(100 * time.Microsecond)
			}
			if got := received.Load(); got < int64(sent) {
				b.Fatalf("received %d of %d messages", got, sent)
			}
			b.ReportMetric(float64(sent)/time.Since(begin).Seconds(), "msgs/s")
		})
	}
}

// BenchmarkRoundTrip sends one message at a time and waits for the echo,
// reporting the round-trip latency percentiles.
func BenchmarkRoundTrip(b *testing.B) {
	for _, sz := range benchSizes {
		b.Run(sz.name, func(b *testing.B) {
			n1, n2 := benchPair(b)
			go func() {
				for in := range n2.Inbound() {
					_ = n2.Send(in.From, in.Data)
				}
			}()
			msg := make([]byte, sz.size)
			var rtts []time.Duration
			for b.Loop() {
				start := time.Now()
				if err := n1.Send(2, slices.Clone(msg)); err != nil {
					b.Fatal(err)
				}
				select {
				case <-n1.Inbound():
				case <-time.After(patience):
					b.Fatal("no echo")
				}
				rtts = append(rtts, time.Since(start))
			}
			slices.Sort(rtts)
			b.ReportMetric(float64(rtts[len(rtts)/2].Microseconds()), "p50-µs")
			b.ReportMetric(float64(rtts[len(rtts)*99/100].Microseconds()), "p99-µs")
		})
	}
}

func benchPair(b *testing.B) (*Transport, *Transport) {
	c := newTestCluster(b, 2)
	n1 := start(b, c, 1, nil)
	n2 := start(b, c, 2, nil)
	waitConnected(b, n1, 2)
	waitConnected(b, n2, 1)
	return n1, n2
}

// BenchmarkSnapshot sends 128 MiB snapshots one way while a message
// bounces back and forth on the message stream, as heartbeats do. It
// reports the snapshot's throughput and the messages' round trip during
// the transfers: what a snapshot costs the heartbeats it travels beside.
func BenchmarkSnapshot(b *testing.B) {
	n1, n2 := benchPair(b)
	body := make([]byte, 128<<20)
	for i := range body {
		body[i] = byte(i * 7)
	}
	go func() {
		for in := range n2.Inbound() {
			if len(in.Data) < 1024 {
				_ = n2.Send(in.From, in.Data)
			}
		}
	}()
	var transferring atomic.Bool
	var rtts []time.Duration
	stop, pinged := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(pinged)
		for {
			select {
			case <-stop:
				return
			default:
			}
			start := time.Now()
			if n1.Send(2, []byte("ping")) != nil {
				time.Sleep(time.Millisecond)
				continue
			}
			select {
			case <-n1.Inbound():
				if transferring.Load() {
					rtts = append(rtts, time.Since(start))
				}
			case <-time.After(time.Second):
			}
		}
	}()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		transferring.Store(true)
		if err := n1.SendSnapshot(2, nil, body); err != nil {
			b.Fatal(err)
		}
		select {
		case s := <-n1.SnapshotsSent():
			if s.Err != nil {
				b.Fatal(s.Err)
			}
		case <-time.After(patience):
			b.Fatal("no outcome")
		}
		transferring.Store(false)
	}
	close(stop)
	<-pinged
	if len(rtts) == 0 {
		b.Fatal("no round trips measured")
	}
	slices.Sort(rtts)
	b.ReportMetric(float64(rtts[len(rtts)/2].Microseconds()), "msg-p50-µs")
	b.ReportMetric(float64(rtts[len(rtts)*99/100].Microseconds()), "msg-p99-µs")
}

package disk

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
)

// request is a READ, WRITE or FLUSH on its way to the image, and where
// its answer goes.
type request struct {
	f      frame
	answer func(frame)
}

// A batch is what the store takes off its queue at once: its writes share
// one fsync of the image and one of the table.
const (
	maxBatch      = 128
	maxBatchBytes = 16 << 20
)

// store applies requests to the image one batch at a time, on one
// goroutine. In a batch, reads go first and see only what earlier
// batches made durable; then the writes the table has not seen are
// applied and recorded; the image is fsynced, then the table's journal;
// only then are the writes and flushes answered. Requests in one batch
// are all unanswered, so any order among them is one the clients could
// have seen; and a write is never answered before its data and its
// record are both durable.
type store struct {
	image   Image
	name    string // the image's path, for errors
	size    int64
	table   *seqTable
	journal *journal
	logger  *slog.Logger

	queue chan *request
	quit  chan struct{}
	done  chan struct{}
	// broken is why the table can no longer be written: from then on
	// writes are refused, since a replay of them could be applied twice.
	broken error
}

func newStore(image Image, name string, size int64, table *seqTable, j *journal, logger *slog.Logger) *store {
	s := &store{image: image, name: name, size: size, table: table, journal: j, logger: logger,
		queue: make(chan *request, maxBatch), quit: make(chan struct{}), done: make(chan struct{})}
	go s.run()
	return s
}

// submit queues r; it reports false once the store has stopped.
func (s *store) submit(r *request) bool {
	select {
	case s.queue <- r:
		return true
	case <-s.quit:
		return false
	}
}

func (s *store) run() {
	defer close(s.done)
	for {
		var batch []*request
		select {
		case r := <-s.queue:
			batch = append(batch, r)
		case <-s.quit:
			return
		}
		bytes := len(batch[0].f.data)
	fill:
		for len(batch) < maxBatch && bytes < maxBatchBytes {
			select {
			case r := <-s.queue:
				batch = append(batch, r)
				bytes += len(r.f.data)
			default:
				break fill
			}
		}
		s.serve(batch)
	}
}

// stop ends the store once its current batch is answered, and closes the
// image and the table.
func (s *store) stop() error {
	close(s.quit)
	<-s.done
	return errors.Join(s.image.Close(), s.journal.close())
}

func (s *store) serve(batch []*request) {
	var writes, flushes []*request
	for _, r := range batch {
		switch Op(r.f.kind) {
		case OpRead:
			s.read(r)
		case OpWrite:
			writes = append(writes, r)
		case OpFlush:
			flushes = append(flushes, r)
		}
	}
	var applied []keptResult
	var clients []string
	for _, r := range writes {
		if s.broken != nil || !s.table.check(r.f.client, r.f.seq, r.f.sum).apply {
			continue
		}
		k := keptResult{seq: r.f.seq, digest: r.f.sum, result: s.write(r.f)}
		s.table.record(r.f.client, k)
		applied = append(applied, k)
		clients = append(clients, r.f.client)
	}
	var synced error
	if len(applied) > 0 || len(flushes) > 0 {
		synced = s.sync()
	}
	if len(applied) > 0 {
		s.commit(clients, applied, synced)
	}
	for _, r := range writes {
		s.answer(r, s.writeAnswer(r.f), nil)
	}
	for _, r := range flushes {
		s.answer(r, ioResult(synced), nil)
	}
	if s.broken == nil && s.journal.compactDue(s.table) {
		if err := s.journal.compact(s.table); err != nil {
			s.logger.Warn("sequence table compaction failed; the table stays as it was", "err", err)
		}
	}
}

// commit makes the answers of the writes just applied durable. A write
// whose data may not be durable (synced failed) is answered, then and
// on every replay, with that I/O error.
func (s *store) commit(clients []string, applied []keptResult, synced error) {
	if synced != nil {
		for i := range applied {
			if applied[i].result.status == StatusOK {
				applied[i].result = ioResult(synced)
				s.table.record(clients[i], applied[i])
			}
		}
	}
	if err := s.journal.appendResults(clients, applied); err != nil {
		s.broken = err
		s.logger.Error("the sequence table cannot be written: refusing writes from now on", "err", err)
		for i := range applied {
			applied[i].result = ioResult(err)
			s.table.record(clients[i], applied[i])
		}
	}
}

// writeAnswer is the answer to a write of a batch served: the table
// holds it, unless the table is broken.
func (s *store) writeAnswer(f frame) result {
	if s.broken != nil {
		return result{status: StatusIOError, text: fmt.Sprintf("writes are refused: %v; restart the server", s.broken)}
	}
	return s.table.check(f.client, f.seq, f.sum).answer
}

func (s *store) sync() error {
	err := s.image.Sync()
	if err != nil {
		err = fmt.Errorf("sync %s: %w", s.name, err)
		s.logger.Error("disk image sync failed", "err", err)
	}
	return err
}

func ioResult(err error) result {
	if err == nil {
		return result{status: StatusOK}
	}
	return result{status: StatusIOError, text: err.Error()}
}

func (s *store) write(f frame) result {
	off := int64(f.value)
	n, err := s.image.WriteAt(f.data, off)
	if err != nil {
		err = fmt.Errorf("write %s at %d: %w", s.name, off, err)
		s.logger.Error("disk image write failed", "client", f.client, "seq", f.seq, "err", err)
		return ioResult(err)
	}
	return result{status: StatusOK, value: uint64(n)}
}

func (s *store) read(r *request) {
	off := int64(r.f.value)
	buf := make([]byte, r.f.count)
	n, err := s.image.ReadAt(buf, off)
	if err != nil && !(errors.Is(err, io.EOF) && n == len(buf)) {
		err = fmt.Errorf("read %s at %d: %w", s.name, off, err)
		s.logger.Error("disk image read failed", "client", r.f.client, "seq", r.f.seq, "err", err)
		s.answer(r, ioResult(err), nil)
		return
	}
	s.answer(r, result{status: StatusOK, value: uint64(n)}, buf)
}

func (s *store) answer(r *request, res result, data []byte) {
	r.answer(frame{kind: uint8(res.status), client: r.f.client, seq: r.f.seq, value: res.value, text: res.text, data: data})
}

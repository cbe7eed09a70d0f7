package bft

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestFileStorageAppendsReplacesAndReopens(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bft.records")
	s, err := OpenFileStorage(path)
	require.NoError(t, err)
	require.NoError(t, s.Append([][]byte{[]byte("a"), []byte("b")}, false))
	require.NoError(t, s.Append([][]byte{[]byte("c")}, false))
	require.NoError(t, s.Close())

	s, err = OpenFileStorage(path)
	require.NoError(t, err)
	got, err := s.Load()
	require.NoError(t, err)
	require.Equal(t, [][]byte{[]byte("a"), []byte("b"), []byte("c")}, got)
	require.NoError(t, s.Append([][]byte{[]byte("d")}, true))
	require.NoError(t, s.Append([][]byte{[]byte("e")}, false))
	got, err = s.Load()
	require.NoError(t, err)
	require.Equal(t, [][]byte{[]byte("d"), []byte("e")}, got, "a replace drops everything before it")
	require.NoError(t, s.Close())
	require.NoFileExists(t, path+".tmp")
}

// Records that outgrow the zeros written ahead of them grow the file,
// and reopen whole.
func TestFileStorageGrows(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bft.records")
	s, err := OpenFileStorage(path)
	require.NoError(t, err)
	var want [][]byte
	for i := range 5 {
		rec := bytes.Repeat([]byte{byte(i + 1)}, fileGrowth/2+i)
		want = append(want, rec)
		require.NoError(t, s.Append([][]byte{rec}, false))
	}
	require.NoError(t, s.Close())
	s, err = OpenFileStorage(path)
	require.NoError(t, err)
	got, err := s.Load()
	require.NoError(t, err)
	require.Equal(t, want, got)
	require.NoError(t, s.Close())
}

// An Append is atomic, as Storage promises, though its records are
// written one after the other: a crash inside it (a process killed in
// its write) may leave any prefix of its bytes, and loading drops the
// write whole, whether its last record there is cut short or whole. A
// Ready's records belong together: one that moved to a view change and
// kept its view record without the view change it signed would restart
// changing view with no view change of its own (found by the simulator).
func TestFileStorageDropsAWriteCutShort(t *testing.T) {
	for _, tc := range []struct {
		name  string
		write [][]byte
		// lost is the part of the write that never reached the disk,
		// from where the write starts.
		lostFrom, lostBytes int
	}{
		{"the tail of its only record", [][]byte{[]byte("torn in the middle of its write")}, fileRecordHead + 4, 16},
		{"its second record", [][]byte{[]byte("the view"), []byte("the view change signed for it")}, fileRecordHead + 8, fileRecordHead + 29},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "bft.records")
			s, err := OpenFileStorage(path)
			require.NoError(t, err)
			require.NoError(t, s.Append([][]byte{[]byte("kept")}, false))
			start := s.end
			require.NoError(t, s.Append(tc.write, false))
			require.NoError(t, s.Close())
			content, err := os.ReadFile(path)
			require.NoError(t, err)
			copy(content[start+int64(tc.lostFrom):], make([]byte, tc.lostBytes))
			require.NoError(t, os.WriteFile(path, content, 0o600))

			s, err = OpenFileStorage(path)
			require.NoError(t, err)
			got, err := s.Load()
			require.NoError(t, err)
			require.Equal(t, [][]byte{[]byte("kept")}, got)
			require.NoError(t, s.Append([][]byte{[]byte("next")}, false))
			require.NoError(t, s.Close())
			s, err = OpenFileStorage(path)
			require.NoError(t, err)
			got, err = s.Load()
			require.NoError(t, err)
			require.Equal(t, [][]byte{[]byte("kept"), []byte("next")}, got, "nothing of the cut write comes back")
			require.NoError(t, s.Close())
		})
	}
}

// A file written before an Append's records were marked as belonging
// together reads as it did: each record an Append of its own.
func TestFileStorageReadsRecordsWrittenBeforeAppendsWereMarked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bft.records")
	content := []byte(fileHeader)
	for _, rec := range []string{"one", "two"} {
		content = binary.BigEndian.AppendUint32(content, uint32(len(rec)))
		content = binary.BigEndian.AppendUint32(content, crc32.Checksum([]byte(rec), crcTable))
		content = append(content, rec...)
	}
	require.NoError(t, os.WriteFile(path, append(content, make([]byte, 64)...), 0o600))
	s, err := OpenFileStorage(path)
	require.NoError(t, err)
	defer s.Close()
	got, err := s.Load()
	require.NoError(t, err)
	require.Equal(t, [][]byte{[]byte("one"), []byte("two")}, got)
}

// Records of an earlier format are refused with what to do, not read as
// messages that fail to decode.
func TestFileStorageRefusesAnEarlierFormat(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bft.records")
	require.NoError(t, os.WriteFile(path, []byte("synod-bft-records-1\n"), 0o600))
	_, err := OpenFileStorage(path)
	require.ErrorIs(t, err, ErrEarlierFormat)
	require.ErrorContains(t, err, "synod init --byzantine")
}

// Records of a later format are refused as such: neither read as records
// that fail to decode nor taken for damage, which --rejoin would set
// aside as lost.
func TestFileStorageRefusesALaterFormat(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bft.records")
	require.NoError(t, os.WriteFile(path, []byte("synod-bft-records-3\n"), 0o600))
	_, err := OpenFileStorage(path)
	require.ErrorIs(t, err, ErrLaterFormat)
	require.NotErrorIs(t, err, ErrCorruptStorage)
	require.ErrorContains(t, err, "later synod")
}

// A record that fails its checksum with records after it is damage, not a
// torn write: the storage refuses to load.
func TestFileStorageRefusesADamagedRecord(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bft.records")
	s, err := OpenFileStorage(path)
	require.NoError(t, err)
	require.NoError(t, s.Append([][]byte{[]byte("prepare view 3 seq 7")}, false))
	require.NoError(t, s.Append([][]byte{[]byte("commit view 3 seq 7")}, false))
	require.NoError(t, s.Close())
	content, err := os.ReadFile(path)
	require.NoError(t, err)
	content[len(fileHeader)+fileRecordHead] ^= 1
	require.NoError(t, os.WriteFile(path, content, 0o600))

	_, err = OpenFileStorage(path)
	require.ErrorIs(t, err, ErrCorruptStorage)
	require.ErrorContains(t, err, path)
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(*Config)
		ok     bool
	}{
		{"defaults", func(*Config) {}, true},
		{"id 0", func(c *Config) { c.ID = 0 }, false},
		{"not a member", func(c *Config) { c.ID = 9 }, false},
		{"another member's key", func(c *Config) { c.PrivateKey = testKey(2) }, false},
		{"window below the checkpoint interval", func(c *Config) { c.CheckpointInterval, c.Window = 8, 4 }, false},
		{"request larger than a batch", func(c *Config) { c.MaxRequestBytes, c.MaxBatchBytes = 2048, 1024 }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Config{ID: 1, PublicKeys: testMembers(4), PrivateKey: testKey(1)}
			tt.change(&cfg)
			err := cfg.Validate()
			if tt.ok {
				require.NoError(t, err)
				require.Equal(t, 2*cfg.CheckpointInterval, cfg.Window)
			} else {
				require.Error(t, err)
			}
		})
	}
}

// BenchmarkFileStorageAppend is what persisting one Ready costs: one
// record of 1 KiB appended and synced.
func BenchmarkFileStorageAppend(b *testing.B) {
	s, err := OpenFileStorage(filepath.Join(b.TempDir(), "bft.records"))
	require.NoError(b, err)
	defer s.Close()
	rec := make([]byte, 1024)
	for b.Loop() {
		require.NoError(b, s.Append([][]byte{rec}, false))
	}
}

package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/synodvm/synod/consensus"
	"github.com/synodvm/synod/consensus/cluster"
)

// The demos' record layout, as the guests write it (guests/journal and
// guests/raid): 64-byte lines "record <i>", padded with spaces.
const (
	demoRecord        = 64
	journalFirstEntry = 4096
	demoDiskSize      = 1 << 20
)

func (d *demo) multipath(run demoRun) error {
	records := run.records
	d.say("starting a disk server for disk journal (%d KiB image)", demoDiskSize>>10)
	addr, err := d.startDisk("journal", demoDiskSize)
	if err != nil {
		return err
	}
	disk := cluster.Disk{Name: "journal", Size: demoDiskSize}
	for n := consensus.NodeID(1); n <= 3; n++ {
		disk.Paths = append(disk.Paths, cluster.DiskPath{Node: n, Addr: addr})
	}
	d.say("disk journal served at %s; nodes 1, 2 and 3 each reach it: the guest sees /dev/synod/journal.1, .2 and .3", addr)
	args := []string{"journal", fmt.Sprint(records), fmt.Sprint(run.interval.Milliseconds()), "1"}
	cfg, err := d.startCluster(run.m, []cluster.Disk{disk}, "journal", journalGuest, args)
	if err != nil {
		return err
	}
	d.page = "http://" + cfg.Nodes[1].StatusAddr + "/"
	d.say("3 nodes started (cluster page: %s); the guest appends %d records through node 1's path", d.page, records)
	a := acks{seen: map[int]bool{}}
	killed := false
	err = d.follow(func(n int) {
		a.add(n)
		switch {
		case !killed && len(a.seen) >= run.killAt:
			killed = true
			d.say("ack %d", n)
			d.kill(1)
		case n%20 == 0:
			d.say("ack %d", n)
		}
	}, func(l demoLine) bool {
		return strings.HasPrefix(l.text, "journal: ") && strings.Contains(l.text, "records written")
	})
	if err != nil {
		return err
	}
	if err := d.verify(d.sameState(cfg)); err != nil {
		return err
	}
	return d.verify(checkJournal(filepath.Join(d.dir, "journal.img"), records, a))
}

func (d *demo) raid(run demoRun) error {
	records := run.records
	var disks []cluster.Disk
	args := []string{fmt.Sprint(records), fmt.Sprint(run.interval.Milliseconds())}
	for n := consensus.NodeID(1); n <= 3; n++ {
		name := fmt.Sprintf("local-%d", n)
		addr, err := d.startDisk(name, demoDiskSize)
		if err != nil {
			return err
		}
		disks = append(disks, cluster.Disk{Name: name, Size: demoDiskSize, Paths: []cluster.DiskPath{{Node: n, Addr: addr}}})
		args = append(args, fmt.Sprintf("%s.%d", name, n))
		d.say("disk %s served at %s, reached by node %d only", name, addr, n)
	}
	cfg, err := d.startCluster(run.m, disks, "raid", raidGuest, args)
	if err != nil {
		return err
	}
	d.page = "http://" + cfg.Nodes[0].StatusAddr + "/"
	d.say("3 nodes started (cluster page: %s); the guest mirrors %d records over the three disks", d.page, records)
	a := acks{seen: map[int]bool{}}
	killed, restarted := false, false
	err = d.follow(func(n int) {
		a.add(n)
		switch {
		case !killed && len(a.seen) >= run.killAt:
			killed = true
			d.say("ack %d", n)
			d.kill(2)
		case killed && !restarted && len(a.seen) >= run.killAt+(records-run.killAt)/2:
			restarted = true
			d.say("ack %d", n)
			d.say("starting node 2 again: it catches up from the log, is declared up, and the mirror resynchronises its disk")
			if err := d.startNode(cfg, 2, withGuest(run.m, filepath.Join(d.dir, "raid")), args); err != nil {
				d.say("cannot start node 2 again: %v", err)
			}
		case n%20 == 0:
			d.say("ack %d", n)
		}
	}, func(l demoLine) bool {
		return strings.HasPrefix(l.text, "raid: ") && strings.Contains(l.text, "mirrors")
	})
	if err != nil {
		return err
	}
	if err := d.verify(d.sameState(cfg)); err != nil {
		return err
	}
	var images []string
	for _, disk := range disks {
		images = append(images, filepath.Join(d.dir, disk.Name+".img"))
	}
	return d.verify(checkMirror(images, records, a))
}

// sameState waits until every running node's replica has seen the guest
// exit, and checks that they all end with the same state hash.
func (d *demo) sameState(cfg *cluster.Config) (string, error) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		hashes := map[string][]consensus.NodeID{}
		var epoch uint64
		pending := false
		for _, n := range cfg.Nodes {
			r, err := fetchReport(n.StatusAddr)
			if err != nil {
				continue // the node killed for the demo
			}
			if !r.Exited {
				pending = true
				break
			}
			hashes[r.StateHash] = append(hashes[r.StateHash], n.ID)
			epoch = r.HashEpoch
		}
		switch {
		case !pending && len(hashes) == 1:
			for h, nodes := range hashes {
				return fmt.Sprintf("nodes %v end with the same state hash %s at epoch %d", nodes, h, epoch), nil
			}
		case !pending:
			return "", fmt.Errorf("the replicas end with different state hashes: %v", hashes)
		case time.Now().After(deadline):
			return "", errors.New("the replicas did not all see the guest exit within 30 s")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func withGuest(m machineFlags, guest string) machineFlags {
	m.guest = guest
	return m
}

// verify prints the demo's verdict.
func (d *demo) verify(verdict string, err error) error {
	if err != nil {
		d.say("FAILED: %v", err)
		return fmt.Errorf("demo: %w", err)
	}
	d.say("OK: %s", verdict)
	return nil
}

// checkRecords checks that image holds records 0..count-1 at first,
// first+64, ...
func checkRecords(image []byte, first, count int) error {
	for i := range count {
		at := first + i*demoRecord
		if at+demoRecord > len(image) {
			return fmt.Errorf("record %d lies beyond the disk", i)
		}
		got := string(bytes.TrimRight(image[at:at+demoRecord], " \n"))
		if want := fmt.Sprintf("record %d", i); got != want {
			return fmt.Errorf("at offset %d the disk holds %q, not %q", at, got, want)
		}
	}
	if rest := image[first+count*demoRecord:]; len(bytes.Trim(rest, "\x00")) != 0 {
		return fmt.Errorf("the disk holds data past record %d", count-1)
	}
	return nil
}

// checkAcks checks that every acknowledged record is one the disk holds.
func checkAcks(a acks, count int) error {
	for n := range a.seen {
		if n >= count {
			return fmt.Errorf("record %d was acknowledged but the disk holds only %d", n, count)
		}
	}
	return nil
}

// checkJournal checks the journal disk after the multipath demo.
func checkJournal(path string, records int, a acks) (string, error) {
	image, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	if string(image[:4]) != "JRNL" {
		return "", fmt.Errorf("%s has no journal header", path)
	}
	count := int(binary.BigEndian.Uint32(image[4:8]))
	if count != records {
		return "", fmt.Errorf("the journal's header counts %d records, the guest wrote %d", count, records)
	}
	if err := checkRecords(image, journalFirstEntry, count); err != nil {
		return "", err
	}
	if err := checkAcks(a, count); err != nil {
		return "", err
	}
	return fmt.Sprintf("the disk holds records 0 to %d, each once and in its place; all %d acknowledged records are there (the console repeated %d lines across the failover)",
		count-1, len(a.seen), a.repeats), nil
}

// checkMirror checks the three disks after the raid demo.
func checkMirror(paths []string, records int, a acks) (string, error) {
	var first []byte
	for i, path := range paths {
		image, err := os.ReadFile(path)
		if err != nil {
			return "", err
		}
		if err := checkRecords(image, 0, records); err != nil {
			return "", fmt.Errorf("%s: %w", filepath.Base(path), err)
		}
		if i == 0 {
			first = image
		} else if !bytes.Equal(first, image) {
			return "", fmt.Errorf("%s differs from %s", filepath.Base(path), filepath.Base(paths[0]))
		}
	}
	if err := checkAcks(a, records); err != nil {
		return "", err
	}
	return fmt.Sprintf("the three disks are equal and hold records 0 to %d; all %d acknowledged records are there", records-1, len(a.seen)), nil
}

package fstree

import "github.com/synodvm/synod/machine/linux"

// dev is the device number every file of a tree reports.
const dev = 0x2a

// Stat describes the file ino.
func (t *Tree) Stat(ino Ino) linux.Stat {
	n := t.nodes[ino]
	size := int64(len(n.Data))
	switch {
	case n.isLink():
		size = int64(len(n.Target))
	case n.isDir():
		size = 4096
	}
	return linux.Stat{
		Dev: dev, Ino: uint64(ino), Mode: n.Mode, Nlink: n.Nlink, UID: n.UID, GID: n.GID,
		Size: size, Blksize: 4096, Blocks: (int64(len(n.Data)) + 511) / 512,
		Atime: n.Atime, Mtime: n.Mtime, Ctime: n.Ctime,
	}
}

// Chmod sets the permission bits of ino.
func (t *Tree) Chmod(ino Ino, mode uint32, now int64) {
	n := t.nodes[ino]
	n.Mode = n.Mode&linux.S_IFMT | mode&0o7777
	n.Ctime = now
}

// Chown sets the owner and group of ino; linux.KeepID leaves one as it is.
func (t *Tree) Chown(ino Ino, uid, gid uint32, now int64) {
	n := t.nodes[ino]
	if uid != linux.KeepID {
		n.UID = uid
	}
	if gid != linux.KeepID {
		n.GID = gid
	}
	n.Ctime = now
}

// SetTimes sets the access and modification times of ino as utimensat
// does, with its UtimeNow and UtimeOmit.
func (t *Tree) SetTimes(ino Ino, atime, mtime linux.Timespec, now int64) linux.Errno {
	a, e := timeOf(atime, now)
	if e != 0 {
		return e
	}
	m, e := timeOf(mtime, now)
	if e != 0 {
		return e
	}
	n := t.nodes[ino]
	if atime.Nsec != linux.UtimeOmit {
		n.Atime = a
	}
	if mtime.Nsec != linux.UtimeOmit {
		n.Mtime = m
	}
	n.Ctime = now
	return 0
}

func timeOf(ts linux.Timespec, now int64) (int64, linux.Errno) {
	switch {
	case ts.Nsec == linux.UtimeNow:
		return now, 0
	case ts.Nsec == linux.UtimeOmit:
		return 0, 0
	case ts.Nsec < 0 || ts.Nsec >= 1e9:
		return 0, linux.EINVAL
	}
	return ts.Sec*1e9 + ts.Nsec, 0
}

// Statfs describes the tree as a tmpfs of Capacity bytes.
func (t *Tree) Statfs() linux.Statfs {
	const block = 4096
	free := uint64(Capacity-t.used) / block
	return linux.Statfs{
		Type: linux.TMPFS_MAGIC, Bsize: block, Frsize: block,
		Blocks: Capacity / block, Bfree: free, Bavail: free,
		Files: MaxFiles, Ffree: uint64(MaxFiles - len(t.nodes)),
		Fsid: [2]uint32{dev, 0}, Namelen: maxName, Flags: linux.ST_VALID,
	}
}

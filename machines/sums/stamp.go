package sums

import (
	"io/fs"
	"time"
)

// RacyWindow is how recent a file's change time may be, before the moment it is hashed, for
// VerifyTree to still trust a stamp taken then. File times come from a coarse kernel clock: a
// file rewritten with the same size within one tick of being hashed keeps its stamp, so a stamp
// taken that close to a change is not cached (the file is hashed again next time, as git does
// for "racily clean" entries).
const RacyWindow = time.Second

// NewStamp returns the stamp of a file from its FileInfo (from Lstat or a Stat of the open file)
// and the sha256 it hashed to. On platforms where mms cannot read the change time and inode, the
// stamp has Inode 0 and is never trusted.
func NewStamp(fi fs.FileInfo, sha256hex string) Stamp {
	st := sysStamp(fi)
	st.Size = fi.Size()
	st.SHA256 = sha256hex
	st.Mode = uint32(fi.Mode().Perm())
	return st
}

// sameFile reports whether a file's current stamp cur shows it unchanged since old was taken.
func sameFile(old, cur Stamp) bool {
	return old.Inode != 0 &&
		old.Size == cur.Size &&
		old.ModNs == cur.ModNs &&
		old.ChangeNs == cur.ChangeNs &&
		old.Inode == cur.Inode
}

package sums

// Stamp is what mms remembers of a file it verified: enough of its inode state to tell, without
// reading it again, whether it may have changed since. A file whose stamp differs is hashed again.
type Stamp struct {
	// Size is the file's length in bytes.
	Size int64 `json:"size"`
	// ModNs is the modification time in Unix nanoseconds.
	ModNs int64 `json:"mtime_ns"`
	// ChangeNs is the inode change time in Unix nanoseconds; it moves on chmod, rename and writes that restore mtime.
	ChangeNs int64 `json:"ctime_ns"`
	// Inode is the file's inode number; a replaced file gets a new one.
	Inode uint64 `json:"inode"`
	// SHA256 is the hex sha256 the file had when the stamp was taken.
	SHA256 string `json:"sha256"`
	// Mode is the permission bits the file was installed with (from its archive); 0 when not
	// known (records of older mms). A file whose mode differs is repaired.
	Mode uint32 `json:"mode,omitempty"`
}

// Cache maps a slash-separated path inside a machine directory to the stamp taken when it was
// last verified.
type Cache map[string]Stamp

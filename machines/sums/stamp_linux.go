//go:build linux

package sums

import (
	"io/fs"
	"syscall"
)

func sysStamp(fi fs.FileInfo) Stamp {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return Stamp{ModNs: fi.ModTime().UnixNano()}
	}
	return Stamp{
		ModNs:    st.Mtim.Nano(),
		ChangeNs: st.Ctim.Nano(),
		Inode:    st.Ino,
	}
}

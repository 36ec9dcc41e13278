package install

import (
	"github.com/mms-io/mms/internal/memo"
	"io/fs"
	"time"

	"github.com/mms-io/mms/machines/sums"
)

// A node's agent or watcher opens the same machines directory on every interval, and decoding
// a record that holds a stamp for every managed file was most of an idle reconcile. The record
// last decoded for each directory is remembered with the stamp (inode, size, times) of the
// state.json it came from, and reused while that stamp is unchanged. A state.json changed less
// than sums.RacyWindow before it was read is not remembered: a file rewritten within one tick
// of the kernel's clock could keep its times, and even its inode number.

// clock tells the time remember measures the racy window with; tests move it.
var clock = time.Now

// maxRemembered bounds the directories remembered; past it the memory starts over.
const maxRemembered = 64

var remembered = memo.New[string, rememberedRecord](maxRemembered)

type rememberedRecord struct {
	stamp sums.Stamp
	rec   Record
}

// statStamp is the stamp of state.json from its FileInfo.
func statStamp(fi fs.FileInfo) sums.Stamp { return sums.NewStamp(fi, "") }

// recall returns a copy of the record remembered for path when its stamp is still st.
func recall(path string, st sums.Stamp) (Record, bool) {
	if st.Inode == 0 {
		return Record{}, false
	}
	r, ok := remembered.Get(path)
	if !ok || r.stamp != st {
		return Record{}, false
	}
	return r.rec.clone(), true
}

// remember keeps a copy of rec, read at readAt from the state.json whose stamp is st.
func remember(path string, st sums.Stamp, rec Record, readAt time.Time) {
	if st.Inode == 0 || readAt.UnixNano()-st.ChangeNs < int64(sums.RacyWindow) {
		remembered.Delete(path)
		return
	}
	remembered.Put(path, rememberedRecord{stamp: st, rec: rec.clone()})
}

package main

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/mms-io/mms/machines"
)

func TestDownloadBar(t *testing.T) {
	t.Run("is not drawn on what is not a terminal", func(t *testing.T) {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		defer w.Close()
		if newDownloadBar(w) != nil {
			t.Error("a bar on a pipe")
		}
	})

	t.Run("appears once a download has run two seconds, for all downloads at once", func(t *testing.T) {
		var out bytes.Buffer
		b := newDownloadBarOn(&out)
		b.report(machines.Progress{Name: "web", Bytes: 100, Total: 1000, Elapsed: time.Second})
		b.report(machines.Progress{Name: "db", Bytes: 50, Total: 500, Elapsed: time.Second})
		if out.Len() != 0 {
			t.Fatalf("drawn before two seconds: %q", out.String())
		}
		b.report(machines.Progress{Name: "web", Bytes: 600, Total: 1000, Elapsed: 2 * time.Second})
		if got := out.String(); !strings.Contains(got, "downloading 2 of 2 archives") || !strings.Contains(got, "43%") {
			t.Fatalf("the bar says %q, want both downloads, 650 of their 1500 bytes", got)
		}
		b.finish()
	})
}

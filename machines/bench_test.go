package machines

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"github.com/mms-io/mms/internal/memo"
	"github.com/mms-io/mms/machines/install"
	"testing"
	"time"

	"github.com/mms-io/mms/machines/match"
	"github.com/mms-io/mms/machines/spec"
	"github.com/mms-io/mms/machines/sums"
)

// bigSpec packs n entries with distinct, realistic matchers.
func bigSpec(b *testing.B, n int) ([]byte, ed25519.PublicKey) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	entries := make([]spec.Entry, n)
	for i := range entries {
		entries[i] = spec.Entry{
			Name:           fmt.Sprintf("machine-%04d", i),
			Source:         fmt.Sprintf("https://archives.example.net/machines/machine-%04d-1.2.3.tgz", i),
			Checksum:       "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
			VerifyChecksum: "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752",
			Match:          fmt.Sprintf("identity('^web%d') && get_fact('dc') == 'lon' || has_file('/etc/role-%d')", i%50, i),
		}
	}
	data, _ := json.Marshal(entries)
	env, _, err := spec.Pack(data, spec.PackOptions{Format: 2, Version: 1, Issued: time.Now(), Key: priv})
	if err != nil {
		b.Fatal(err)
	}
	return env, pub
}

// BenchmarkCheckSpec1000 is what a node does with a new 1,000-entry signed spec before it
// touches disk: decode, verify the signature, validate every entry, compile every matcher.
func BenchmarkCheckSpec1000(b *testing.B) {
	env, pub := bigSpec(b, 1000)
	b.SetBytes(int64(len(env)))
	b.ReportAllocs()
	for b.Loop() {
		s, err := spec.Open(env, spec.Trust{Keys: []ed25519.PublicKey{pub}})
		if err != nil {
			b.Fatal(err)
		}
		compiledMatchers = memo.New[matcherKey, compiled](maxCachedMatchers) // a new spec: nothing cached
		matcherCache{}.compileAll(s.Entries)
		if _, err := (matcherCache{}).compile(s.Entries[999].Match); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMatchEntry is one entry's matcher evaluated on one node.
func BenchmarkMatchEntry(b *testing.B) {
	m, err := match.Compile("identity('^web') && get_fact('dc') == 'lon' || has_file('/etc/role-x')")
	if err != nil {
		b.Fatal(err)
	}
	node, _ := match.NewNode("web12.example.net", []byte(`{"dc":"lon","cpu":{"count":8}}`), "")
	b.ReportAllocs()
	for b.Loop() {
		if ok, err := m.Match(node); err != nil || !ok {
			b.Fatal(ok, err)
		}
	}
}

// BenchmarkReconcileUnchanged is an interval tick of a long-running node where nothing changed:
// 100 installed machines of 20 files each, re-verified from their stamps.
// BenchmarkReconcileUnchanged is an interval reconcile of 100 unchanged machines of 20 files,
// each reconcile opening the machines directory (mms apply); /held is the same in a
// directory held open, as the node loop holds it.
func BenchmarkReconcileUnchanged(b *testing.B) {
	b.Run("open", func(b *testing.B) { benchReconcileUnchanged(b, false) })
	b.Run("held", func(b *testing.B) { benchReconcileUnchanged(b, true) })
}

func benchReconcileUnchanged(b *testing.B, held bool) {
	f := newFixture(b)
	var entries []spec.Entry
	for i := range 100 {
		files := map[string]string{}
		for j := range 19 {
			files[fmt.Sprintf("f%02d.txt", j)] = fmt.Sprintf("machine %d file %d\n", i, j)
		}
		entries = append(entries, f.entry(fmt.Sprintf("m%03d", i), "1", files))
	}
	env := f.envelope(nil, entries...)
	if rep := Reconcile(context.Background(), f.config(), env); rep.Failed() || len(rep.Results) != 100 {
		b.Fatalf("setup: %+v", rep)
	}
	// A node's steady state: files older than the racy window, whose stamps are trusted, and a
	// record written by the reconcile that stamped them. (Deliberate waits in setup, not in the
	// measured loop.)
	for range 2 {
		time.Sleep(sums.RacyWindow)
		if rep := Reconcile(context.Background(), f.config(), env); rep.Failed() {
			b.Fatalf("setup: %+v", rep)
		}
	}
	reconcile := func() *Report { return Reconcile(context.Background(), f.config(), env) }
	if held {
		st, err := install.Open(f.config().Dir)
		if err != nil {
			b.Fatal(err)
		}
		defer st.Close()
		reconcile = func() *Report { return ReconcileStore(context.Background(), f.config(), st, env) }
	}
	b.ReportAllocs()
	for b.Loop() {
		rep := reconcile()
		if rep.Failed() || rep.Changed() {
			b.Fatalf("%+v", rep)
		}
	}
}

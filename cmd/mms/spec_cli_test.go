package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

const testSumA = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
const testSumB = "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752"

// keyPair runs `mms keys` and returns the printed pair.
func keyPair(t *testing.T, dir string) (pub, priv string) {
	t.Helper()
	r := mms(t, dir, "keys")
	m := regexp.MustCompile(`(?m)^ Public Key: ([0-9a-f]{64})\nPrivate Key: ([0-9a-f]{128})\n$`).FindStringSubmatch(r.stdout)
	if r.code != 0 || m == nil {
		t.Fatalf("mms keys printed %q (exit %d)", r.stdout, r.code)
	}
	return m[1], m[2]
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

const machinesFile = `[
  {"name": "web", "source": "https://archives.example.net/web.tgz", "checksum": "` + testSumA + `", "verify_checksum": "` + testSumB + `", "match": "identity('^web')"},
  {"name": "db", "source": "https://archives.example.net/db.tgz", "checksum": "` + testSumB + `", "verify_checksum": "` + testSumA + `", "username": "u", "password": "hunter2-secret"}
]
`

func TestKeysCommand(t *testing.T) {
	dir := t.TempDir()
	t.Run("prints a pair in go-choria's format", func(t *testing.T) {
		a, _ := keyPair(t, dir)
		b, _ := keyPair(t, dir)
		if a == b {
			t.Fatal("two runs printed the same key")
		}
	})
	t.Run("writes PREFIX.key 0600 and PREFIX.pub, and never overwrites them", func(t *testing.T) {
		r := mms(t, dir, "keys", "--out", "signer")
		if r.code != 0 {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		st, err := os.Stat(filepath.Join(dir, "signer.key"))
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Fatalf("signer.key: %v %v", st, err)
		}
		pub, _ := os.ReadFile(filepath.Join(dir, "signer.pub"))
		if !strings.Contains(r.stdout, strings.TrimSpace(string(pub))) {
			t.Fatalf("printed %q, file holds %q", r.stdout, pub)
		}
		before, _ := os.ReadFile(filepath.Join(dir, "signer.key"))
		if r := mms(t, dir, "keys", "--out", "signer"); r.code == 0 || !strings.Contains(r.stderr, "file exists") {
			t.Fatalf("overwrote a key: %+v", r)
		}
		after, _ := os.ReadFile(filepath.Join(dir, "signer.key"))
		if string(before) != string(after) {
			t.Fatal("the private key file changed")
		}
	})
}

func TestPackAndVerifyCommands(t *testing.T) {
	dir := t.TempDir()
	pub, priv := keyPair(t, dir)
	otherPub, _ := keyPair(t, dir)
	writeFile(t, dir, "machines.json", machinesFile)

	t.Run("packs a signed v2 spec that verifies and shows its entries without the password", func(t *testing.T) {
		r := mms(t, dir, "pack", "machines.json", priv)
		if r.code != 0 {
			t.Fatalf("pack: exit %d %s", r.code, r.stderr)
		}
		writeFile(t, dir, "spec.json", r.stdout)
		v := mms(t, dir, "verify", "spec.json", otherPub, pub)
		if v.code != 0 {
			t.Fatalf("verify: exit %d %s", v.code, v.stderr)
		}
		for _, want := range []string{"Format: v2", "Version: ", "Issued: ", "Expires: never", "verified by key " + pub + " (2 of 2)", "Entries: 2", "identity('^web')", "credentials: set (never shown)"} {
			if !strings.Contains(v.stdout, want) {
				t.Errorf("verify output lacks %q:\n%s", want, v.stdout)
			}
		}
		if strings.Contains(v.stdout+v.stderr, "hunter2-secret") || strings.Contains(v.stdout+v.stderr, `"u"`) || strings.Contains(v.stdout, "username") {
			t.Fatal("verify printed the credentials")
		}
		j := mms(t, dir, "verify", "spec.json", otherPub, pub, "--json")
		if j.code != 0 || strings.Contains(j.stdout, "hunter2-secret") || strings.Contains(j.stdout, `"u"`) {
			t.Fatalf("verify --json: %+v", j)
		}
		var doc specDoc
		decodeStrict(t, j.stdout, &doc)
		if doc.Schema != "mms.verify.v1" || doc.Format != 2 || !doc.Signed || doc.Signer != pub || doc.SignerIndex != 2 || doc.KeysGiven != 2 ||
			!doc.Admissible || doc.Issued == nil || doc.Expires != nil || len(doc.Entries) != 2 || !doc.Entries[1].Credentials || doc.Entries[0].Credentials || doc.KV != nil {
			t.Fatalf("verify --json: %+v", doc)
		}
	})
	t.Run("takes the key from $KEY and from a key file", func(t *testing.T) {
		r := runCmd(t, mmsPath(t), dir, nil, []string{"KEY=" + priv}, "pack", "--format", "v1", "machines.json")
		if r.code != 0 {
			t.Fatalf("$KEY: exit %d %s", r.code, r.stderr)
		}
		keyFile := writeFile(t, dir, "k.key", priv+"\n")
		if err := os.Chmod(keyFile, 0o600); err != nil {
			t.Fatal(err)
		}
		f := mms(t, dir, "pack", "--format", "v1", "machines.json", "k.key")
		if f.code != 0 || f.stdout != r.stdout {
			t.Fatalf("key file: exit %d %s", f.code, f.stderr)
		}
	})
	t.Run("refuses a private key file others may read, saying the chmod that fixes it", func(t *testing.T) {
		writeFile(t, dir, "open.key", priv+"\n") // 0644
		r := mms(t, dir, "pack", "--format", "v1", "machines.json", "open.key")
		if r.code != 1 || !strings.Contains(r.stderr, "readable by others") || !strings.Contains(r.stderr, "chmod 600 open.key") {
			t.Fatalf("got %+v", r)
		}
	})
	t.Run("refuses a trusted public key file others may write", func(t *testing.T) {
		pubFile := writeFile(t, dir, "open.pub", pub+"\n")
		if err := os.Chmod(pubFile, 0o666); err != nil {
			t.Fatal(err)
		}
		r := mms(t, dir, "verify", "spec.json", "open.pub")
		if r.code == 0 || !strings.Contains(r.stderr, "writable by others") || !strings.Contains(r.stderr, "chmod go-w open.pub") {
			t.Fatalf("got %+v", r)
		}
	})
	t.Run("says a key file that does not exist does not exist", func(t *testing.T) {
		r := mms(t, dir, "verify", "spec.json", "signer.pbu")
		if r.code == 0 || !strings.Contains(r.stderr, "key file signer.pbu does not exist") {
			t.Fatalf("got %+v", r)
		}
	})
	t.Run("refuses to pack unsigned without --force, and warns with it", func(t *testing.T) {
		r := mms(t, dir, "pack", "machines.json")
		if r.code != 1 || !strings.Contains(r.stderr, "--force") || r.stdout != "" {
			t.Fatalf("got %+v", r)
		}
		r = mms(t, dir, "pack", "--force", "machines.json")
		if r.code != 0 || !strings.Contains(r.stderr, "unsigned") || !strings.HasPrefix(r.stdout, `{"machines":"`) {
			t.Fatalf("got %+v", r)
		}
		writeFile(t, dir, "unsigned.json", r.stdout)
		if v := mms(t, dir, "verify", "unsigned.json", pub); v.code != 1 || !strings.Contains(v.stderr, "not signed") {
			t.Fatalf("verify accepted an unsigned spec: %+v", v)
		}
	})
	t.Run("lists every problem of an invalid machines file", func(t *testing.T) {
		writeFile(t, dir, "bad.json", `[{"name":"../x","source":"https://a/b.tgz","checksum":"abc","verify_checksum":"`+testSumA+`"},{"name":"ok","source":"","checksum":"`+testSumA+`","verify_checksum":"`+testSumB+`","cheksum":"x"}]`)
		r := mms(t, dir, "pack", "bad.json", priv)
		if r.code != 1 || r.stdout != "" {
			t.Fatalf("got %+v", r)
		}
		for _, want := range []string{`entry 1 ("../x"): name must match`, `entry 1 ("../x"): checksum must be 64 hex characters`, `entry "ok": source is required`} {
			if !strings.Contains(r.stderr, want) {
				t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
			}
		}
	})
	t.Run("refuses unknown fields unless --allow-unknown", func(t *testing.T) {
		writeFile(t, dir, "typo.json", `[{"name":"web","source":"https://a/b.tgz","checksum":"`+testSumA+`","verify_checksum":"`+testSumB+`","cheksum":"x"}]`)
		if r := mms(t, dir, "pack", "typo.json", priv); r.code != 1 || !strings.Contains(r.stderr, `entry "web": field cheksum is not known`) {
			t.Fatalf("got %+v", r)
		}
		if r := mms(t, dir, "pack", "--allow-unknown", "typo.json", priv); r.code != 0 || !strings.Contains(r.stderr, "cheksum") {
			t.Fatalf("got %+v", r)
		}
	})
	t.Run("refuses a matcher that cannot compile", func(t *testing.T) {
		writeFile(t, dir, "matcher.json", `[{"name":"web","source":"https://a/b.tgz","checksum":"`+testSumA+`","verify_checksum":"`+testSumB+`","match":"identity('x') +"}]`)
		if r := mms(t, dir, "pack", "matcher.json", priv); r.code != 1 || !strings.Contains(r.stderr, `entry "web"`) {
			t.Fatalf("got %+v", r)
		}
	})
	t.Run("an expired spec verifies its signature but exits 1", func(t *testing.T) {
		r := mms(t, dir, "pack", "--expires", "1ms", "machines.json", priv)
		if r.code != 0 {
			t.Fatalf("pack: %+v", r)
		}
		writeFile(t, dir, "expired.json", r.stdout)
		v := mms(t, dir, "verify", "expired.json", pub)
		if v.code != 1 || !strings.Contains(v.stderr, "spec expired at") || !strings.Contains(v.stdout, "verified by key") {
			t.Fatalf("got %+v", v)
		}
	})
	t.Run("usage errors exit 2", func(t *testing.T) {
		for _, args := range [][]string{{"verify", "spec.json"}, {"verify", "spec.json", "abcd"}, {"pack"}, {"pack", "--format", "v3", "machines.json"}, {"pack", "--format", "v1", "--version", "3", "machines.json", priv}, {"nonsense"}} {
			if r := mms(t, dir, args...); r.code != 2 {
				t.Errorf("%v: exit %d, want 2 (%s)", args, r.code, r.stderr)
			}
		}
	})
	t.Run("a bad private key is a clear error", func(t *testing.T) {
		if r := mms(t, dir, "pack", "machines.json", strings.Repeat("ab", 20)); r.code != 1 || !strings.Contains(r.stderr, "does not exist (nor is it 128 hex characters)") {
			t.Fatalf("got %+v", r)
		}
		if r := mms(t, dir, "pack", "machines.json", strings.Repeat("zz", 64)); r.code != 1 || !strings.Contains(r.stderr, "does not exist") {
			t.Fatalf("got %+v", r)
		}
	})
	t.Run("help is there for every command", func(t *testing.T) {
		for _, c := range []string{"keys", "pack", "verify", "match"} {
			if r := mms(t, dir, "help", c); r.code != 0 || !strings.Contains(r.stdout+r.stderr, "usage: mms "+c) {
				t.Errorf("help %s: %+v", c, r)
			}
		}
	})
}

func TestMatchCommand(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "machines.json", `[
  {"name":"web","source":"https://a/w.tgz","checksum":"`+testSumA+`","verify_checksum":"`+testSumB+`","match":"identity('^web') && get_fact('dc') == 'lon'"},
  {"name":"all","source":"https://a/a.tgz","checksum":"`+testSumA+`","verify_checksum":"`+testSumB+`"},
  {"name":"broken","source":"https://a/b.tgz","checksum":"`+testSumA+`","verify_checksum":"`+testSumB+`","match":"identity('(')"}
]`)
	writeFile(t, dir, "facts.json", `{"dc":"lon"}`)
	r := mms(t, dir, "match", "machines.json", "--identity", "web1.example.net", "--facts", "facts.json")
	if r.code != 1 || !strings.Contains(r.stderr, "1 of 3 matchers failed") {
		t.Fatalf("got %+v", r)
	}
	for _, re := range []string{`(?m)^web\s+matched\s`, `(?m)^all\s+matched\s+\(every node\)`, `(?m)^broken\s+error: `} {
		if !regexp.MustCompile(re).MatchString(r.stdout) {
			t.Errorf("output does not match %s:\n%s", re, r.stdout)
		}
	}
	if !strings.Contains(r.stdout, `Node "web1.example.net" (given by --identity), facts from facts.json (12 bytes)`) {
		t.Errorf("match does not say which node and facts it used:\n%s", r.stdout)
	}
	r = mms(t, dir, "match", "machines.json", "--identity", "db1")
	if !regexp.MustCompile(`(?m)^web\s+not matched`).MatchString(r.stdout) {
		t.Errorf("db1 matched web:\n%s", r.stdout)
	}

	t.Run("--json", func(t *testing.T) {
		r := mms(t, dir, "match", "machines.json", "--identity", "web1.example.net", "--facts", "facts.json", "--json")
		if r.code != 1 {
			t.Fatalf("exit %d, want 1 for the broken matcher: %+v", r.code, r)
		}
		var doc matchDoc
		decodeStrict(t, r.stdout, &doc)
		if doc.Schema != "mms.match.v1" || doc.Failed != 1 || len(doc.Entries) != 3 || doc.Node.Identity != "web1.example.net" || doc.Node.IdentityFrom != "--identity" || doc.Node.FactsBytes != 12 {
			t.Fatalf("document %+v", doc)
		}
		got := map[string]string{}
		for _, e := range doc.Entries {
			got[e.Name] = fmt.Sprint(e.Matched, e.Error != "")
		}
		if want := map[string]string{"web": "true false", "all": "true false", "broken": "false true"}; fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("results %v, want %v", got, want)
		}
	})

	t.Run("judges within the node's matcher limits", func(t *testing.T) {
		r := mms(t, dir, "match", "machines.json", "--identity", "web1", "--max-matcher-length", "20")
		if r.code != 1 || !regexp.MustCompile(`(?m)^web\s+error: .*max_matcher_length`).MatchString(r.stdout) || !strings.Contains(r.stderr, "2 of 3 matchers failed") {
			t.Fatalf("a matcher over --max-matcher-length: %+v", r)
		}
	})
}

func TestTheDocumentedExample(t *testing.T) {
	// The example of shared/reference/choria-machines-watcher-v0.29.4.txt, kept in machines/spec/testdata.
	const (
		pub  = "64031219d4922eed63a5f567303e98607c632139c01bc9fa4ca2514c2d9d30da"
		priv = "d8bd4d6392af154e996a18a4ccd5f51931d8e861d42966a677d85fbb598b66d364031219d4922eed63a5f567303e98607c632139c01bc9fa4ca2514c2d9d30da"
	)
	testdata, _ := filepath.Abs("../../machines/spec/testdata")
	dir := t.TempDir()
	want, err := os.ReadFile(filepath.Join(testdata, "reference-spec.json"))
	if err != nil {
		t.Fatal(err)
	}
	machines := filepath.Join(testdata, "reference-machines.json")
	t.Run("packs to the documented spec", func(t *testing.T) {
		if r := mms(t, dir, "pack", "--format", "v1", machines, priv); r.code != 0 || r.stdout != string(want) {
			t.Fatalf("got %+v\nwant %s", r, want)
		}
	})
	t.Run("packs as v2 and verifies", func(t *testing.T) {
		r := mms(t, dir, "pack", machines, priv)
		writeFile(t, dir, "v2.json", r.stdout)
		if v := mms(t, dir, "verify", "v2.json", pub); v.code != 0 || !strings.Contains(v.stdout, "has_command('facter')") {
			t.Fatalf("got %+v", v)
		}
	})
	t.Run("verifies", func(t *testing.T) {
		if v := mms(t, dir, "verify", filepath.Join(testdata, "reference-spec.json"), pub); v.code != 0 {
			t.Fatalf("got %+v", v)
		}
	})
	t.Run("matches a node with facter on its PATH", func(t *testing.T) {
		bin := t.TempDir()
		writeFile(t, bin, "facter", "#!/bin/sh\n")
		os.Chmod(filepath.Join(bin, "facter"), 0o755)
		r := runCmd(t, mmsPath(t), dir, nil, []string{"PATH=" + bin}, "match", machines, "--identity", "n1")
		if r.code != 0 || !regexp.MustCompile(`(?m)^facts\s+matched`).MatchString(r.stdout) {
			t.Fatalf("got %+v", r)
		}
		r = runCmd(t, mmsPath(t), dir, nil, []string{"PATH=" + t.TempDir()}, "match", machines, "--identity", "n1")
		if !regexp.MustCompile(`(?m)^facts\s+not matched`).MatchString(r.stdout) {
			t.Fatalf("got %+v", r)
		}
	})
}

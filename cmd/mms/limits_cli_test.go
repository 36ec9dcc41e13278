package main

import (
	"strings"
	"testing"
)

func TestApplyMatcherLimitFlags(t *testing.T) {
	dir, machinesDir := t.TempDir(), t.TempDir()
	pub, priv := keyPair(t, dir)
	writeFile(t, dir, "machines.json", `[{"name":"web","source":"https://a/w.tgz","checksum":"`+testSumA+`","verify_checksum":"`+testSumB+`","match":"identity('^web-with-a-long-pattern')"}]`)
	r := mms(t, dir, "pack", "machines.json", priv)
	writeFile(t, dir, "spec.json", r.stdout)

	t.Run("a matcher over --max-matcher-length is refused, naming the limit", func(t *testing.T) {
		r := mms(t, dir, "apply", "spec.json", "--dir", machinesDir, "--public-key", pub, "--identity", "web1", "--max-matcher-length", "10")
		if r.code != 1 || !strings.Contains(r.stdout, "max_matcher_length") || !strings.Contains(r.stdout, "refuse") {
			t.Fatalf("got %+v", r)
		}
		if !strings.Contains(r.stdout, "(raise it with --max-matcher-length)") || strings.Contains(r.stdout, "property") {
			t.Errorf("the CLI says how to raise a limit in its own words, its flag:\n%s", r.stdout)
		}
	})
	t.Run("a zero limit is a usage error, never unlimited", func(t *testing.T) {
		if r := mms(t, dir, "apply", "spec.json", "--dir", machinesDir, "--public-key", pub, "--max-matcher-time", "0s"); r.code != 2 {
			t.Fatalf("got %+v", r)
		}
	})
}

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestStatusShowsGoChoriaManagers(t *testing.T) {
	dir := t.TempDir()
	fixture, err := os.ReadFile("../../machines/testdata/gochoria/machineswatcher.yaml")
	if err != nil {
		t.Fatal(err)
	}
	render := func(name string) []byte {
		return []byte(strings.NewReplacer("@NAME@", name, "@TARGET@", dir, "@SOURCE@", "https://repo.example.net/"+name+".tgz",
			"@CHECKSUM@", testSumA, "@VERIFY_CHECKSUM@", testSumB).Replace(string(fixture)))
	}
	for name, extra := range map[string]bool{"web": false, "odd": true} {
		mdir := filepath.Join(dir, "mm_"+name)
		os.MkdirAll(mdir, 0o755)
		os.WriteFile(filepath.Join(mdir, "machine.yaml"), render(name), 0o644)
		if extra {
			os.WriteFile(filepath.Join(mdir, "hook.sh"), []byte("#!/bin/sh\n"), 0o755)
		}
		os.MkdirAll(filepath.Join(dir, name), 0o755)
	}
	r := mms(t, dir, "status", "--dir", dir)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	for _, want := range []string{
		"mm_web: go-choria's manager of web (https://repo.example.net/web.tgz): retired once mms adopts or replaces web",
		"mm_odd: left alone: ",
		"Not managed by mms (never replaced or removed): odd, web",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("status lacks %q:\n%s", want, r.stdout)
		}
	}
}

func TestStatusShowsTheLastApply(t *testing.T) {
	dir, machinesDir := t.TempDir(), t.TempDir()
	pub, priv := keyPair(t, dir)
	writeFile(t, dir, "machines.json", "[]")
	writeFile(t, dir, "spec.json", mms(t, dir, "pack", "machines.json", priv).stdout)
	if r := mms(t, dir, "apply", "spec.json", "--dir", machinesDir, "--public-key", pub); r.code != 0 {
		t.Fatalf("apply: %+v", r)
	}
	r := mms(t, dir, "status", "--dir", machinesDir)
	if r.code != 0 || !strings.Contains(r.stdout, "Last reconcile: ") || !strings.Contains(r.stdout, "a specification file (mms apply)") {
		t.Fatalf("status after apply: %+v", r)
	}
}

package main

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/mms-io/mms/machines/archive"
	"github.com/mms-io/mms/machines/spec"
)

// buildMachine builds a small machine archive (a machine.yaml and two files, about 1 KiB)
// called name at version under dir, serves it from srv and returns its entry.
func buildMachine(srv *archiveServer, dir, name, version string) (spec.Entry, error) {
	src := filepath.Join(dir, "src-"+name+"-"+version, name)
	files := map[string]string{
		"machine.yaml": "name: " + name + "\nversion: " + version + "\ninitial_state: RUN\n",
		"README.md":    "The " + name + " machine, version " + version + ", for the fleet simulator.\n",
		"bin/check.sh": "#!/bin/sh\necho " + name + " " + version + "\n",
	}
	for p, content := range files {
		full := filepath.Join(src, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return spec.Entry{}, err
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			return spec.Entry{}, err
		}
	}
	var buf bytes.Buffer
	res, err := archive.Build(src, name, &buf)
	if err != nil {
		return spec.Entry{}, fmt.Errorf("build %s %s: %w", name, version, err)
	}
	url := srv.put("/"+name+"-"+version+".tgz", buf.Bytes())
	return spec.Entry{Name: name, Source: url, Checksum: res.Checksum, VerifyChecksum: res.VerifyChecksum}, nil
}

// signer packs signed v2 specifications with versions that only grow.
type signer struct {
	priv ed25519.PrivateKey
	ver  int64
}

// pack signs entries as the next version.
func (s *signer) pack(entries ...spec.Entry) ([]byte, error) {
	if entries == nil {
		entries = []spec.Entry{}
	}
	data, err := json.Marshal(entries)
	if err != nil {
		return nil, err
	}
	s.ver++
	env, _, err := spec.Pack(data, spec.PackOptions{Format: 2, Version: s.ver, Issued: time.Now().Add(-time.Minute), Key: s.priv})
	return env, err
}

package main

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"github.com/mms-io/mms/machines/archive"
	"github.com/mms-io/mms/machines/spec"
)

// payloadFile is the file of -archive-size incompressible bytes in each machine archive.
const payloadFile = "data.bin"

// buildMachine builds a machine archive called name at version under dir: a machine.yaml and
// two files (about 1 KiB), and with size > 0 also payloadFile, size bytes that do not
// compress; it hands it to put (which serves or publishes it as NAME-VERSION.tgz and returns
// its source URL) and returns its entry.
func buildMachine(put func(object string, body []byte) (string, error), dir, name, version string, size int64) (spec.Entry, error) {
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
	if size > 0 {
		if err := writeNoise(filepath.Join(src, payloadFile), name+"-"+version, size); err != nil {
			return spec.Entry{}, err
		}
	}
	var buf bytes.Buffer
	res, err := archive.Build(src, name, &buf)
	if err != nil {
		return spec.Entry{}, fmt.Errorf("build %s %s: %w", name, version, err)
	}
	if err := os.RemoveAll(filepath.Dir(src)); err != nil {
		return spec.Entry{}, err
	}
	url, err := put(name+"-"+version+".tgz", buf.Bytes())
	if err != nil {
		return spec.Entry{}, fmt.Errorf("put %s %s: %w", name, version, err)
	}
	return spec.Entry{Name: name, Source: url, Checksum: res.Checksum, VerifyChecksum: res.VerifyChecksum}, nil
}

// writeNoise writes size pseudo-random bytes to path, seeded by seed: incompressible, so that
// the archive is as large as the file, and different for each machine and version.
func writeNoise(path, seed string, size int64) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	rng := rand.NewChaCha8(sha256.Sum256([]byte(seed)))
	if _, err := io.CopyN(f, rng, size); err != nil {
		f.Close()
		return err
	}
	return f.Close()
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

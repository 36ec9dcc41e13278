package main

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
)

// words make the text files, so that gzip has something to compress.
var words = strings.Fields(`machine watcher state transition interval exec file kv nagios scheduler
	timer plugin archive governor manager registry metric expression fact identity checksum`)

// writeBenchMachine writes a machine directory root/name of files files totalling about
// totalBytes: half the files random bytes (incompressible), half lines of words, spread over
// nested directories; content is fixed by seed.
func writeBenchMachine(root, name string, files int, totalBytes int64, seed uint64) (string, error) {
	rng := rand.New(rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), 'm', 'm', 's'}))
	dir := filepath.Join(root, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, "machine.yaml"), []byte("name: "+name+"\nversion: 1.0.0\n"), 0o644); err != nil {
		return "", err
	}
	avg := totalBytes / int64(files)
	for i := range files - 1 {
		rel := filepath.Join(fmt.Sprintf("d%02d", i%40), fmt.Sprintf("s%d", i%7), fmt.Sprintf("file-%05d", i))
		size := avg/2 + rng.Int64N(avg+1) // avg on average
		var err error
		if i%2 == 0 {
			err = writeRandom(filepath.Join(dir, rel+".bin"), size, rng)
		} else {
			err = writeText(filepath.Join(dir, rel+".txt"), size, rng)
		}
		if err != nil {
			return "", err
		}
	}
	return dir, nil
}

func writeRandom(path string, size int64, rng *rand.Rand) error {
	return writeWith(path, func(w *bufio.Writer) error {
		buf := make([]byte, 8)
		for n := int64(0); n < size; n += 8 {
			v := rng.Uint64()
			for j := range buf {
				buf[j] = byte(v >> (8 * j))
			}
			if _, err := w.Write(buf[:min(8, size-n)]); err != nil {
				return err
			}
		}
		return nil
	})
}

func writeText(path string, size int64, rng *rand.Rand) error {
	return writeWith(path, func(w *bufio.Writer) error {
		for n := int64(0); n < size; {
			line := fmt.Sprintf("%d %s %s %s %x\n", n, words[rng.IntN(len(words))], words[rng.IntN(len(words))], words[rng.IntN(len(words))], rng.Uint32())
			if int64(len(line)) > size-n {
				line = line[:size-n]
			}
			if _, err := w.WriteString(line); err != nil {
				return err
			}
			n += int64(len(line))
		}
		return nil
	})
}

func writeWith(path string, fill func(w *bufio.Writer) error) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 64<<10)
	if err := fill(w); err != nil {
		f.Close()
		return err
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

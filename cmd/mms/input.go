package main

import (
	"fmt"
	"io"
	"os"
)

// readInput reads a file, or standard input when path is "-". fisk v0.6.4 hands a bare "-"
// argument over as an empty string, so "" means standard input too.
func readInput(path string) ([]byte, error) {
	if path == "-" || path == "" {
		data, err := io.ReadAll(os.Stdin)
		if err != nil {
			return nil, fmt.Errorf("read standard input: %w", err)
		}
		return data, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return data, nil
}

package main

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/choria-io/fisk"
)

// jsonFlag adds --json to cmd: the command prints one JSON document, whose schema
// docs/json.md describes, instead of its text.
func jsonFlag(cmd *fisk.CmdClause, v *bool) {
	cmd.Flag("json", "Prints one JSON document instead of text (its schema is in docs/json.md)").UnNegatableBoolVar(v)
}

// writeJSON prints doc as indented JSON, with a trailing newline.
func writeJSON(w io.Writer, doc any) error {
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return fmt.Errorf("encode JSON output: %w", err)
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

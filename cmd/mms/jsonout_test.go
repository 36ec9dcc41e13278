package main

import (
	"bytes"
	"encoding/json"
	"testing"
)

// decodeStrict decodes one JSON document from out into v, refusing fields v does not have
// and anything after the document: a command's --json output must be exactly its schema.
func decodeStrict(t *testing.T, out string, v any) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader([]byte(out)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("decode --json output: %v\n%s", err, out)
	}
	if dec.More() {
		t.Fatalf("--json printed more than one document:\n%s", out)
	}
}

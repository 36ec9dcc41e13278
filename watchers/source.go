package watchers

import (
	"encoding/json"
	"fmt"

	"github.com/mms-io/mms/nodeloop"
)

// source is where the watcher takes its specification from: the data item, or the KV key.
func (w *Watcher) source() nodeloop.Source {
	if w.settings.DataItem != "" {
		return &dataItemSource{w: w, item: w.settings.DataItem}
	}
	return &kvSource{w: w}
}

// envelopeFromData turns a machine data value into envelope bytes. go-choria's kv watcher
// stores a JSON object value already decoded, as map[string]any, and other values as strings;
// machine data reloaded from disk is decoded JSON too. Re-encoding a decoded envelope is safe:
// the signature covers the payload inside it, not the envelope's bytes.
func envelopeFromData(v any) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return nil, nil
	case string:
		if x == "" {
			return nil, nil
		}
		return []byte(x), nil
	case []byte:
		if len(x) == 0 {
			return nil, nil
		}
		return x, nil
	case json.RawMessage:
		if len(x) == 0 {
			return nil, nil
		}
		return x, nil
	case map[string]any:
		b, err := json.Marshal(x)
		if err != nil {
			return nil, fmt.Errorf("re-encode the specification envelope: %w", err)
		}
		return b, nil
	default:
		return nil, fmt.Errorf("holds a %T, not a specification envelope (a JSON object)", v)
	}
}

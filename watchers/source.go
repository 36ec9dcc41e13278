package watchers

import (
	"encoding/json"
	"fmt"
)

// kvLatest is the last value the KV watch delivered, in bucket mode.
type kvLatest struct {
	value    []byte
	revision uint64
	deleted  bool
}

// envelope returns the specification envelope to reconcile against, with its KV revision in
// bucket mode. A nil envelope and nil error mean there is no specification: nothing is purged.
func (w *Watcher) envelope() ([]byte, uint64, error) {
	if w.settings.DataItem == "" {
		w.mu.Lock()
		defer w.mu.Unlock()
		if w.kv.value == nil {
			return nil, w.kv.revision, nil
		}
		return w.kv.value, w.kv.revision, nil
	}

	v, ok := w.machine.DataGet(w.settings.DataItem)
	if !ok {
		return nil, 0, nil
	}
	env, err := envelopeFromData(v)
	if err != nil {
		return nil, 0, fmt.Errorf("data item %q: %w", w.settings.DataItem, err)
	}
	return env, 0, nil
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

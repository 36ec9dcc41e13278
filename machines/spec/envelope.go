package spec

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"fmt"

	"github.com/tidwall/gjson"

	"github.com/mms-io/mms/machines/errs"

	"github.com/mms-io/mms/internal/jsondepth"
)

// MaxEnvelopeBytes bounds the specification a node will decode: far above what one NATS message
// carries by default (1 MiB), far below what could hurt a node.
const MaxEnvelopeBytes = 16 << 20 // 16 MiB

// Kind names the envelope a specification arrived in.
type Kind string

const (
	// KindMachines is the envelope of go-choria's and our `mms pack`: the signature covers the
	// decoded payload bytes.
	KindMachines Kind = "machines"
	// KindPlugins is the envelope of go-choria's plugins manager (`choria machine plugins pack`):
	// the signature covers the base64 text, not the decoded bytes.
	KindPlugins Kind = "plugins"
)

// Envelope is the JSON object stored as the KV value.
type Envelope struct {
	// Kind says which go-choria envelope this is.
	Kind Kind
	// Encoded is the base64 text of the payload, as it appears in the envelope.
	Encoded string
	// Payload is the decoded payload: a v1 array or a v2 object.
	Payload []byte
	// Signature is the hex ed25519 signature; empty when unsigned.
	Signature string
}

// SignedBytes returns the bytes the signature covers for this kind of envelope.
func (e *Envelope) SignedBytes() []byte {
	if e.Kind == KindPlugins {
		return []byte(e.Encoded)
	}
	return e.Payload
}

// envelopeFields are the known fields of an envelope, for foldProblem.
var envelopeFields = []string{"machines", "plugins", "signature"}

// DecodeEnvelope parses the KV value: {"machines": base64, "signature": hex} or the plugins
// manager's {"plugins": base64, "signature": hex}.
func DecodeEnvelope(data []byte) (*Envelope, error) {
	if len(data) > MaxEnvelopeBytes {
		return nil, &errs.LimitError{Name: "max_spec_bytes", Limit: MaxEnvelopeBytes, Unit: "bytes", What: "specification"}
	}
	if err := jsondepth.Check(data, jsondepth.Max); err != nil {
		return nil, fmt.Errorf("%w: envelope: %v", errs.ErrInvalidSpec, err)
	}
	root := gjson.ParseBytes(data)
	if !gjson.ValidBytes(data) || !root.IsObject() {
		return nil, fmt.Errorf("%w: envelope is not a JSON object", errs.ErrInvalidSpec)
	}
	fields := map[string]gjson.Result{}
	var problem error
	root.ForEach(func(key, value gjson.Result) bool {
		if p := foldProblem(key.Str, envelopeFields); p != "" {
			problem = fmt.Errorf("%w: envelope %s", errs.ErrInvalidSpec, p)
			return false
		}
		switch key.Str {
		case "machines", "plugins", "signature":
			if _, dup := fields[key.Str]; dup {
				problem = fmt.Errorf("%w: envelope gives %q twice", errs.ErrInvalidSpec, key.Str)
				return false
			}
			if value.Type != gjson.String && value.Type != gjson.Null {
				problem = fmt.Errorf("%w: envelope field %q must be a string", errs.ErrInvalidSpec, key.Str)
				return false
			}
			fields[key.Str] = value
		}
		return true
	})
	if problem != nil {
		return nil, problem
	}
	machines, hasMachines := fields["machines"]
	plugins, hasPlugins := fields["plugins"]
	env := &Envelope{Signature: fields["signature"].Str}
	switch {
	case hasMachines && hasPlugins:
		return nil, fmt.Errorf("%w: envelope has both \"machines\" and \"plugins\"", errs.ErrInvalidSpec)
	case hasMachines:
		env.Kind, env.Encoded = KindMachines, machines.Str
	case hasPlugins:
		env.Kind, env.Encoded = KindPlugins, plugins.Str
	default:
		return nil, fmt.Errorf("%w: envelope has neither \"machines\" nor \"plugins\"", errs.ErrInvalidSpec)
	}
	payload, err := base64.StdEncoding.DecodeString(env.Encoded)
	if err != nil {
		return nil, fmt.Errorf("%w: %q is not standard base64: %v", errs.ErrInvalidSpec, env.Kind, err)
	}
	if len(payload) == 0 {
		return nil, fmt.Errorf("%w: %q is empty", errs.ErrInvalidSpec, env.Kind)
	}
	env.Payload = payload
	return env, nil
}

// wireEnvelope is exactly the structure go-choria v0.29.4's `mms pack` marshals, so that the
// same payload and key give the same bytes.
type wireEnvelope struct {
	Machines  []byte `json:"machines"`
	Signature string `json:"signature,omitempty"`
}

// EncodeEnvelope wraps payload in the machines envelope, signed with key when key is not nil.
// The result carries no trailing newline.
func EncodeEnvelope(payload []byte, key ed25519.PrivateKey) ([]byte, error) {
	w := wireEnvelope{Machines: payload}
	if key != nil {
		sig, err := Sign(key, payload)
		if err != nil {
			return nil, err
		}
		w.Signature = sig
	}
	return json.Marshal(w)
}

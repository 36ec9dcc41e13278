package spec

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
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
	// Signatures are the named signatures of a v2 payload (field "signatures"), which a node
	// that trusts a keyring counts toward its threshold; go-choria ignores them.
	Signatures []NamedSignature
}

// SignedBytes returns the bytes the signature covers for this kind of envelope.
func (e *Envelope) SignedBytes() []byte {
	if e.Kind == KindPlugins {
		return []byte(e.Encoded)
	}
	return e.Payload
}

// envelopeFields are the known fields of an envelope, for foldProblem.
var envelopeFields = []string{"machines", "plugins", "signature", "signatures"}

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
	var problem, err error
	root.ForEach(func(key, value gjson.Result) bool {
		if p := foldProblem(key.Str, envelopeFields); p != "" {
			problem = fmt.Errorf("%w: envelope %s", errs.ErrInvalidSpec, p)
			return false
		}
		switch key.Str {
		case "machines", "plugins", "signature", "signatures":
			if _, dup := fields[key.Str]; dup {
				problem = fmt.Errorf("%w: envelope gives %q twice", errs.ErrInvalidSpec, key.Str)
				return false
			}
			if key.Str != "signatures" && value.Type != gjson.String && value.Type != gjson.Null {
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
	if list, ok := fields["signatures"]; ok {
		if env.Signatures, err = DecodeSignatures([]byte(list.Raw), "envelope"); err != nil {
			return nil, err
		}
	}
	switch {
	case hasMachines && hasPlugins:
		return nil, fmt.Errorf("%w: envelope has both \"machines\" and \"plugins\"", errs.ErrInvalidSpec)
	case hasMachines:
		env.Kind, env.Encoded = KindMachines, machines.Str
	case hasPlugins && env.Signatures != nil:
		return nil, fmt.Errorf("%w: a plugins envelope carries no \"signatures\" list: several signatures need a v2 specification in the machines envelope", errs.ErrInvalidSpec)
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
	// Signatures is ours, after go-choria's fields, and absent when empty: an envelope without
	// it is byte for byte go-choria's.
	Signatures []NamedSignature `json:"signatures,omitempty"`
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

// AddSignature returns envelope with a named signature by key added to its list (mms sign),
// so that a second signer signs on another machine what the first packed. Only a v2 payload in
// the machines envelope takes one; a key that already signed it, in the list or as the single
// signature, is refused rather than counted twice.
func AddSignature(envelope []byte, key ed25519.PrivateKey) ([]byte, error) {
	env, err := DecodeEnvelope(envelope)
	if err != nil {
		return nil, err
	}
	if env.Kind != KindMachines {
		return nil, fmt.Errorf("%w: a %s envelope takes no further signatures; repack it as a v2 specification", errs.ErrInvalidSpec, env.Kind)
	}
	if s, err := ParsePayload(env.Payload); err != nil {
		return nil, err
	} else if s.Format != 2 {
		return nil, fmt.Errorf("%w: a v1 specification takes only its one signature; several need a v2 specification (mms pack makes one unless told --format v1)", errs.ErrInvalidSpec)
	}
	if len(key) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("%w: private key is %d bytes, want %d", errs.ErrInvalidKey, len(key), ed25519.PrivateKeySize)
	}
	pub := key.Public().(ed25519.PublicKey)
	if signed, _ := SignedKeys(env.Payload, env.Signature, env.Signatures, []ed25519.PublicKey{pub}); signed[0] || hasKey(env.Signatures, pub) {
		return nil, fmt.Errorf("%w: key %s has already signed this specification", errs.ErrSignature, hex.EncodeToString(pub))
	}
	if len(env.Signatures) >= MaxSignatures {
		return nil, fmt.Errorf("%w: the specification already carries %d signatures, the most a node reads", errs.ErrInvalidSpec, len(env.Signatures))
	}
	ns, err := SignatureFor(key, env.Payload)
	if err != nil {
		return nil, err
	}
	return json.Marshal(wireEnvelope{Machines: env.Payload, Signature: env.Signature, Signatures: append(env.Signatures, ns)})
}

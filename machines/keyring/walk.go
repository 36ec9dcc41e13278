package keyring

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/mms-io/mms/machines/errs"
)

// ErrNotFound is what a Fetcher returns for a version that does not exist: the walk ends
// there.
var ErrNotFound = errors.New("keyring version not found")

// Fetcher returns the document of one keyring version (from the KV bucket next to the
// specification, or from files given to mms apply), or an error wrapping ErrNotFound.
type Fetcher func(ctx context.Context, version int64) ([]byte, error)

// DefaultMaxSteps bounds the versions one walk reads, as TUF bounds its root rotations: a node
// that is further behind goes on from where it got at its next walk.
const DefaultMaxSteps = 64

// Walked is what one walk did.
type Walked struct {
	// From is the version the walk started from (0 when it held none).
	From int64
	// Skipped are versions read at the start that the anchor does not vouch for (older
	// keyrings, before the configured roots signed one), with the reason.
	Skipped []error
	// Refused is why the walk stopped before the newest version, when it did: that version is
	// not signed as it must be. Unread says the next version could not be read (the bucket
	// cannot be reached): the walk goes on from there next time.
	Refused, Unread error
	// More says the step bound was reached with versions left to read.
	More bool
}

// Walk goes from held (nil when the node holds no keyring yet) to the newest keyring fetch
// gives, reading at most maxSteps versions (DefaultMaxSteps when 0). With nothing held it
// starts from version 1 and takes the first version anchor vouches for; from there each
// version must follow the one before (Follows). It returns the newest keyring it trusts (held
// when nothing newer is), which may be nil when it trusts none yet; a version that does not
// follow stops the walk, and is in Walked.Refused. It never returns a version older than held.
// Whether the keyring returned has expired is the caller's to judge (Keyring.Trust).
func Walk(ctx context.Context, anchor Anchor, held *Keyring, fetch Fetcher, maxSteps int) (*Keyring, Walked) {
	if maxSteps <= 0 {
		maxSteps = DefaultMaxSteps
	}
	w := Walked{}
	cur := held
	if cur != nil {
		w.From = cur.Version
	}
	next := w.From + 1
	for steps := 0; ; steps++ {
		if steps == maxSteps {
			w.More = true
			return cur, w
		}
		doc, err := fetch(ctx, next)
		if errors.Is(err, ErrNotFound) {
			return cur, w
		}
		if err != nil {
			w.Unread = fmt.Errorf("read keyring version %d: %w", next, err)
			return cur, w
		}
		k, err := Parse(doc)
		if err == nil && k.Version != next {
			err = fmt.Errorf("%w: the document stored as version %d is version %d", errs.ErrKeyring, next, k.Version)
		}
		switch {
		case err != nil && cur == nil:
			w.Skipped = append(w.Skipped, err)
		case err != nil:
			w.Refused = err
			return cur, w
		case cur == nil:
			if err := anchor.Vouches(k); err != nil {
				w.Skipped = append(w.Skipped, err)
			} else {
				cur = k
			}
		default:
			if err := cur.Follows(k); err != nil {
				w.Refused = err
				return cur, w
			}
			cur = k
		}
		next++
	}
}

// Given is one keyring version given as a document (a file), with the name it came by.
type Given struct {
	Name    string
	Doc     []byte
	Keyring *Keyring
}

// Sorted parses documents given at once, by name (files given to mms apply or mms verify), into
// their versions, lowest first. Two documents of one version with different payloads are
// refused; of two with the same payload, the one with more signatures is kept.
func Sorted(docs map[string][]byte) ([]Given, error) {
	byVersion := map[int64]Given{}
	for name, doc := range docs {
		k, err := Parse(doc)
		if err != nil {
			return nil, fmt.Errorf("keyring %s: %w", name, err)
		}
		if o, dup := byVersion[k.Version]; dup {
			if o.Keyring.Digest != k.Digest {
				return nil, fmt.Errorf("%w: %s and %s are two different keyrings of version %d", errs.ErrKeyring, o.Name, name, k.Version)
			}
			if len(o.Keyring.Signatures) >= len(k.Signatures) {
				continue
			}
		}
		byVersion[k.Version] = Given{Name: name, Doc: doc, Keyring: k}
	}
	out := make([]Given, 0, len(byVersion))
	for _, g := range byVersion {
		out = append(out, g)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Keyring.Version < out[j].Keyring.Version })
	return out, nil
}

// FromDocuments is a Fetcher over documents given at once, by name, by their version (see
// Sorted).
func FromDocuments(docs map[string][]byte) (Fetcher, error) {
	given, err := Sorted(docs)
	if err != nil {
		return nil, err
	}
	raw := make(map[int64][]byte, len(given))
	for _, g := range given {
		raw[g.Keyring.Version] = g.Doc
	}
	return func(_ context.Context, v int64) ([]byte, error) {
		if doc, ok := raw[v]; ok {
			return doc, nil
		}
		return nil, fmt.Errorf("version %d is not among the keyring files given: %w", v, ErrNotFound)
	}, nil
}

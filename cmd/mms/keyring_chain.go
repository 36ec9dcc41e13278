package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"fmt"
	"time"

	"github.com/mms-io/mms/machines/errs"
	"github.com/mms-io/mms/machines/keyring"
)

// keyringFile is one keyring version read from a file.
type keyringFile struct {
	file string
	doc  []byte
	k    *keyring.Keyring
}

// Where a version stands once the files were walked.
const (
	versionTrusted    = "trusted"
	versionSkipped    = "skipped"
	versionRefused    = "refused"
	versionNotReached = "not reached"
)

// keyringChain is what walking keyring files from an anchor found, as a node walks the
// bucket's versions: which version it trusts, and where each version stands.
type keyringChain struct {
	// anchor is what the walk starts from; self says it is the lowest version's own roots
	// (no roots were given).
	anchor keyring.Anchor
	self   bool
	// files are the versions, from the lowest, with no gap.
	files []keyringFile
	// status and reason say where each file's version stands, and why.
	status, reason []string
	// trusted is the newest version trusted, nil when none.
	trusted *keyring.Keyring
	// problem says why the newest version given is not trusted now (refused, or expired);
	// nil when it is.
	problem error
}

// readKeyringFiles reads each file as a version of one keyring, sorted by version. Two files
// of one version must hold one payload (the one with more signatures is read); the versions
// must follow each other with no gap, as a node walks them.
func readKeyringFiles(files []string) ([]keyringFile, error) {
	docs := map[string][]byte{}
	for _, f := range files {
		doc, err := readInput(f)
		if err != nil {
			return nil, err
		}
		docs[f] = bytes.TrimSpace(doc)
	}
	given, err := keyring.Sorted(docs)
	if err != nil {
		return nil, err
	}
	out := make([]keyringFile, len(given))
	for i, g := range given {
		out[i] = keyringFile{file: g.Name, doc: g.Doc, k: g.Keyring}
	}
	for i := 1; i < len(out); i++ {
		if prev, v := out[i-1].k.Version, out[i].k.Version; v != prev+1 {
			return nil, fmt.Errorf("%w: keyring versions %d and %d are given, not the %d between them: a node walks each version in turn", errs.ErrKeyring, prev, v, v-prev-1)
		}
	}
	return out, nil
}

// walkKeyringFiles walks files (from readKeyringFiles) from anchor, as a node walks the
// versions in its bucket (keyring.Walk): the first version anchor vouches for is taken, every
// later one must follow the one before. Without an anchor (nil), the lowest version's own
// roots are trusted: it must be signed by a threshold of them.
func walkKeyringFiles(ctx context.Context, files []keyringFile, anchor *keyring.Anchor, now time.Time) *keyringChain {
	c := &keyringChain{files: files, status: make([]string, len(files)), reason: make([]string, len(files))}
	for i := range c.status {
		c.status[i] = versionNotReached
	}
	if anchor == nil {
		low := files[0].k
		c.anchor, c.self = keyring.Anchor{Roots: low.Roots, Threshold: low.RootThreshold}, true
	} else {
		c.anchor = *anchor
	}
	first := -1
	for i, f := range files {
		var err error
		if c.self {
			err = f.k.SelfSigned() // what Vouches checks, with the anchor being its own roots
		} else {
			err = c.anchor.Vouches(f.k)
		}
		if err == nil {
			first = i
			break
		}
		if c.self {
			c.status[i], c.reason[i] = versionRefused, err.Error()
			c.problem = fmt.Errorf("%s: %w", f.file, err)
			return c
		}
		c.status[i], c.reason[i] = versionSkipped, err.Error()
	}
	if first < 0 {
		last := files[len(files)-1]
		c.problem = fmt.Errorf("%w: no keyring version given is signed by %d of the %d roots given (version %d: %s)", errs.ErrKeyring, c.anchor.Threshold, len(c.anchor.Roots), last.k.Version, c.reason[len(files)-1])
		return c
	}
	fetch := func(_ context.Context, v int64) ([]byte, error) {
		i := int(v - files[0].k.Version)
		if i < 0 || i >= len(files) {
			return nil, fmt.Errorf("keyring version %d: %w", v, keyring.ErrNotFound)
		}
		return files[i].doc, nil
	}
	held := files[first].k
	k, w := keyring.Walk(ctx, c.anchor, held, fetch, len(files)+1)
	c.trusted = k
	for i := first; i < len(files) && files[i].k.Version <= k.Version; i++ {
		c.status[i] = versionTrusted
	}
	newest := files[len(files)-1]
	switch {
	case w.Refused != nil:
		i := int(k.Version + 1 - files[0].k.Version)
		c.status[i], c.reason[i] = versionRefused, w.Refused.Error()
		c.problem = fmt.Errorf("%s: nodes stay at version %d: %w", files[i].file, k.Version, w.Refused)
	case k.Version != newest.k.Version:
		c.problem = fmt.Errorf("%w: the walk stopped at keyring version %d, before version %d", errs.ErrKeyring, k.Version, newest.k.Version)
	default:
		if err := k.Expired(now); err != nil {
			c.problem = err
		}
	}
	return c
}

// anchorFromFlags is the anchor --root and --threshold give (roots: the argument name, for
// errors); nil when no root is given.
func anchorFromFlags(rootsFlag, thresholdFlag string, roots []string, threshold int) (*keyring.Anchor, error) {
	if len(roots) == 0 {
		if threshold != 0 {
			return nil, usageError("%s needs %s, the root keys it counts", thresholdFlag, rootsFlag)
		}
		return nil, nil
	}
	keys, err := loadKeys(rootsFlag, roots)
	if err != nil {
		return nil, err
	}
	a, err := keyring.NewAnchor(keys, threshold)
	if err != nil {
		return nil, usageError("%s and %s: %v", rootsFlag, thresholdFlag, err)
	}
	return &a, nil
}

// selfTrustWarning is what a walk without roots says, loudly: the lowest version vouches for
// itself.
func selfTrustWarning(c *keyringChain, rootsFlag string) string {
	low := c.files[0]
	return fmt.Sprintf("warning: no %s given: trusting the %d root(s) that keyring version %d (%s) names itself; anyone can write a keyring that names its own roots: give %s (the roots the nodes are configured with) to check it as a node does",
		rootsFlag, len(low.k.Roots), low.k.Version, low.file, rootsFlag)
}

// quorum counts the distinct keys of roots whose signature of k verifies, against threshold.
type quorum struct {
	Signed int  `json:"signed"`
	Needed int  `json:"needed"`
	Of     int  `json:"of"`
	Met    bool `json:"met"`
}

func newQuorum(k *keyring.Keyring, roots []ed25519.PublicKey, threshold int) quorum {
	n, _ := k.SignedBy(roots)
	return quorum{Signed: n, Needed: threshold, Of: len(roots), Met: n >= threshold}
}

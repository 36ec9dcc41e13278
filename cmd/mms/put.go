package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/choria-io/fisk"
	"github.com/mms-io/mms/fleet"
	"github.com/mms-io/mms/kvspec"
	"github.com/mms-io/mms/machines"
	"github.com/mms-io/mms/machines/errs"
	"github.com/mms-io/mms/machines/keyring"
	"github.com/mms-io/mms/machines/spec"
	"github.com/mms-io/mms/nodeloop"
	"github.com/mms-io/mms/objstore"
	"github.com/nats-io/nats.go/jetstream"
)

func init() {
	registerCommand(configurePut)
	registerCommand(configureGet)
}

type putCommand struct {
	kv     kvFlags
	bucket bucketFlags
	file   string
	keys   []string
	status string
	force  bool
	// forceFeatures publishes past checkFleetFeatures, a check of its own: forcing a rollback
	// past checkVersionGrows must not also publish to nodes that cannot stage.
	forceFeatures bool
	unsigned      bool
	// keyringRoots and keyringThreshold check the specification as nodes trusting a keyring
	// do: against the keyring published beside its key, walked from these roots.
	keyringRoots     []string
	keyringThreshold int
}

func configurePut(app *fisk.Application) {
	c := &putCommand{}
	cmd := app.Command("put", "Checks a specification and publishes it to the NATS Key-Value bucket the nodes watch").Action(action(c.run))
	cmd.Arg("spec", "The specification envelope file, as mms pack prints it (- for standard input)").Required().StringVar(&c.file)
	c.kv.register(cmd, localServerHelp)
	c.kv.registerDir(cmd)
	c.kv.registerProfiles(cmd)
	cmd.Flag("public-key", "A public key the nodes trust: the signature must verify with one of them; repeat for rotation").StringsVar(&c.keys)
	cmd.Flag("keyring-root", "A keyring root key the nodes are configured with: the specification must be signed as the keyring published beside its key (KEY.keyring.N), walked from these roots, requires; repeat").PlaceHolder("PUB").StringsVar(&c.keyringRoots)
	cmd.Flag("keyring-threshold", "How many of --keyring-root must sign the keyring (required with more than one)").PlaceHolder("K").IntVar(&c.keyringThreshold)
	c.bucket.register(cmd)
	cmd.Flag("status-bucket", "The bucket nodes report their status to, created with --replicas if it does not exist (empty: none)").Default(fleet.DefaultBucket).StringVar(&c.status)
	cmd.Flag("force", "Publishes even when a v2 specification's version does not grow past the published one (nodes that applied that one will refuse it), or an obj:// archive it names is not in the Object Store as named (nodes will fail to install it until it is)").UnNegatableBoolVar(&c.force)
	cmd.Flag("force-features", "Publishes even when nodes reporting to --status-bucket do not know a feature the specification requires (rollout, for a rollout policy): they refuse it as a whole and stay on the specification they have. Unlike --force, which it does not imply").UnNegatableBoolVar(&c.forceFeatures)
	cmd.Flag("unsigned", "Publishes without checking the signature, for nodes that trust no key (every node with a key refuses an unsigned specification)").UnNegatableBoolVar(&c.unsigned)
}

func (c *putCommand) run() error {
	if c.status != "" {
		if err := kvspec.CheckBucket(c.status); err != nil {
			return usageError("--status-bucket: %v", err)
		}
	}
	keys, err := loadKeys("--public-key", c.keys)
	if err != nil {
		return err
	}
	anchor, err := anchorFromFlags("--keyring-root", "--keyring-threshold", c.keyringRoots, c.keyringThreshold)
	if err != nil {
		return err
	}
	if len(keys) == 0 && anchor == nil && !c.unsigned {
		return usageError("no --public-key given: mms put checks the signature with the keys the nodes trust (or, given --keyring-root, with the signers of the keyring they trust), so that nodes do not refuse what it publishes; give --unsigned to publish for nodes that trust none")
	}
	data, err := readInput(c.file)
	if err != nil {
		return err
	}
	data = bytes.TrimSpace(data)
	trust := spec.Trust{Keys: keys, InsecureAllowUnsigned: true}
	var s *spec.Spec
	if anchor == nil {
		// Checked before connecting: a specification no node takes needs no server.
		if s, err = checkPublishableWith(data, trust); err != nil {
			return fmt.Errorf("put %s: %w", c.file, err)
		}
	}
	if err := checkSpecSize(len(data)); err != nil {
		return fmt.Errorf("put %s: %w", c.file, err)
	}
	if len(keys) == 0 && anchor == nil {
		fmt.Fprintln(os.Stderr, "warning: --unsigned: the signature was not checked; every node that trusts a key will refuse this specification if it is not signed by it")
	}

	ctx, cancel := context.WithTimeout(context.Background(), connectTimeout+3*requestTimeout)
	defer cancel()
	url, nc, js, err := c.kv.dial(ctx)
	if err != nil {
		return err
	}
	defer nc.Close()
	if anchor != nil {
		if trust.Signers, err = c.publishedSigners(ctx, js, *anchor, url); err != nil {
			return fmt.Errorf("put %s: %w", c.file, err)
		}
		if s, err = checkPublishableWith(data, trust); err != nil {
			return fmt.Errorf("put %s: %w", c.file, err)
		}
	}
	if !c.force {
		if err := checkVersionGrowsWith(ctx, c.kv, js, s, trust); err != nil {
			return fmt.Errorf("put %s: %w", c.file, err)
		}
		if err := checkObjects(ctx, js, s); err != nil {
			return fmt.Errorf("put %s: %w", c.file, c.kv.natsHint(err, url))
		}
	}
	if !c.forceFeatures {
		if err := checkFleetFeatures(ctx, js, c.status, s, time.Now()); err != nil {
			return fmt.Errorf("put %s: %w", c.file, err)
		}
	}
	rev, err := kvspec.Put(ctx, js, c.kv.bucket, c.kv.key, data, c.bucket.config())
	if err != nil {
		return c.kv.natsHint(err, url)
	}
	if c.status != "" {
		if err := fleet.EnsureBucket(ctx, js, fleet.BucketConfig(c.status, c.bucket.replicas, 0)); err != nil {
			fmt.Fprintf(os.Stderr, "warning: %v: nodes cannot report their status until it exists\n", c.kv.natsHint(err, url))
		}
	}
	fmt.Printf("Published %s/%s revision %d: %s, %d entries\n", c.kv.bucket, c.kv.key, rev, summary(s), len(s.Entries))
	return nil
}

// checkPublishable refuses what no node trusting keys (none: any node) would act on, with the
// node's default matcher limits, warning of the fields nodes will ignore.
func checkPublishable(data []byte, keys []ed25519.PublicKey) (*spec.Spec, error) {
	return checkPublishableWith(data, spec.Trust{Keys: keys, InsecureAllowUnsigned: true})
}

// checkPublishableWith is checkPublishable for nodes that trust trust (keys, a keyring's
// signers).
func checkPublishableWith(data []byte, trust spec.Trust) (*spec.Spec, error) {
	s, err := machines.CheckPublishable(data, trust, nodeloop.DefaultSettings().Matcher, time.Now())
	if err != nil {
		return nil, err
	}
	for _, u := range s.Unknown {
		fmt.Fprintf(os.Stderr, "warning: %s is not known to this mms; nodes will ignore it\n", u)
	}
	return s, nil
}

// checkVersionGrows refuses to replace a published v2 specification with one nodes would
// refuse as a rollback: a lower version, an equal version with other content, or v1. Only a
// published value that keys verify binds (with keys given): an unsigned or foreign write to
// the key, at version 2^63-1 say, is no version any node accepted, and must not block the
// operator's publish.
func checkVersionGrows(ctx context.Context, kv kvFlags, js jetstream.JetStream, s *spec.Spec, keys []ed25519.PublicKey) error {
	return checkVersionGrowsWith(ctx, kv, js, s, spec.Trust{Keys: keys})
}

// checkVersionGrowsWith is checkVersionGrows for nodes that trust trust: with a keyring, a
// published version binds while enough of the signers who signed it remain signers.
func checkVersionGrowsWith(ctx context.Context, kv kvFlags, js jetstream.JetStream, s *spec.Spec, trust spec.Trust) error {
	keys := trust.Keys
	cur, err := kvspec.Get(ctx, js, kv.bucket, kv.key)
	if errors.Is(err, kvspec.ErrNotFound) || errors.Is(err, kvspec.ErrNoBucket) {
		return nil
	}
	if err != nil {
		return kv.natsHint(err, "the server")
	}
	// Signers are judged as of when the value was stored: nodes that took it then keep its
	// floor after a signer, or the keyring, expires (spec.Accepted.Binds).
	then := spec.Trust{Keys: keys, InsecureAllowUnsigned: true, Now: func() time.Time { return cur.Created }}
	if trust.Signers != nil {
		ss := *trust.Signers
		ss.Unusable = ""
		then.Signers = &ss
	}
	old, err := spec.Open(cur.Value, then)
	if errors.Is(err, errs.ErrSignature) {
		by := "a given --public-key"
		if trust.Signers != nil {
			by = "a given --public-key or the keyring's signers"
		}
		fmt.Fprintf(os.Stderr, "warning: the published revision %d is not signed by %s: no node trusting them accepted it, so its version does not bind (%v)\n", cur.Revision, by, err)
		return nil
	}
	if err != nil {
		return nil // what is published is not a specification: nothing to compare with
	}
	last := spec.NewAccepted(old, cur.Created)
	if err := spec.Admit(s, &last, spec.Trust{Keys: keys, Signers: trust.Signers}, time.Now()); errors.Is(err, errs.ErrRollback) {
		return fmt.Errorf("%w (published: revision %d, %s); pack it again for a higher version, or pass --force", err, cur.Revision, summary(old))
	}
	return nil
}

// errArchivesMissing means archives a specification names in the Object Store are not there
// as it names them: nodes would fail to install them.
var errArchivesMissing = errors.New("archives not in the Object Store as named")

// checkObjects refuses a specification whose obj:// archives are not in the Object Store as
// its entries name them (the store's digest of each is the entry's checksum, which implies the
// size), or that give an obj:// entry credentials every node would refuse, naming each entry,
// so that nodes do not fail to install what is published.
func checkObjects(ctx context.Context, js jetstream.JetStream, s *spec.Spec) error {
	var problems []string
	for _, e := range s.Entries {
		if u, err := url.Parse(e.Source); err != nil || !strings.EqualFold(u.Scheme, objstore.Scheme) {
			continue
		}
		if e.Username != "" || e.Password != "" {
			problems = append(problems, fmt.Sprintf("%s: an obj:// source takes no username or password (the nodes' NATS connections' own apply), and every node would refuse it", e.Name))
			continue
		}
		if _, err := objstore.Check(ctx, js, e.Source, e.Checksum); err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", e.Name, err))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w: %s; publish them with mms archive DIR --publish BUCKET, or pass --force", errArchivesMissing, strings.Join(problems, "; "))
	}
	return nil
}

// summary names a specification's format, version and signature in a few words.
func summary(s *spec.Spec) string {
	signed := "signature not checked"
	if s.Signed() {
		signed = "signature verified"
	}
	if g := s.Signing; g != nil {
		signed += fmt.Sprintf(" (keyring version %d: %s)", g.Keyring, strings.Join(g.Names(), ", "))
	}
	if s.Format == 2 {
		return fmt.Sprintf("v2 version %d, %s", s.Version, signed)
	}
	return "v1, " + signed
}

// publishedSigners walks the keyring published beside the specification's key from anchor, as
// nodes do (the same fetcher), and returns the signers of the newest version it trusts. With none, nodes trusting
// the anchor would refuse whatever the signers signed: so is the specification here.
func (c *putCommand) publishedSigners(ctx context.Context, js jetstream.JetStream, anchor keyring.Anchor, url string) (*spec.Signers, error) {
	where := nodeloop.KeyringWhere(c.kv.bucket, c.kv.key)
	fetch := nodeloop.KeyringFetcher(func() (jetstream.JetStream, error) { return js, nil }, c.kv.bucket, c.kv.key)
	k, w := keyring.Walk(ctx, anchor, nil, fetch, 0)
	if w.Unread != nil {
		return nil, c.kv.natsHint(w.Unread, url)
	}
	if k == nil {
		reason := "nothing is published there (mms keyring put)"
		switch {
		case w.Refused != nil:
			reason = c.kv.natsHint(w.Refused, url).Error()
		case len(w.Skipped) > 0:
			reason = w.Skipped[len(w.Skipped)-1].Error()
		}
		return nil, fmt.Errorf("%w: no keyring at %s is signed by the --keyring-root given: %s", errs.ErrKeyring, where, reason)
	}
	if w.Refused != nil {
		fmt.Fprintf(os.Stderr, "warning: nodes stay at keyring version %d: the next version at %s is refused: %v\n", k.Version, where, w.Refused)
	}
	return k.Trust(time.Now()), nil
}

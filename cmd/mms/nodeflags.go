package main

import (
	"crypto/ed25519"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/choria-io/fisk"
	"github.com/mms-io/mms/machines"
	"github.com/mms-io/mms/machines/archive"
	"github.com/mms-io/mms/machines/fetch"
	"github.com/mms-io/mms/machines/match"
	"github.com/mms-io/mms/machines/spec"
)

// nodeFlags are the flags of every command that acts on a machines directory (apply, agent):
// one definition, so that they mean the same everywhere.
type nodeFlags struct {
	dir             string
	publicKeys      []string
	insecure        bool
	purge           bool
	identity        string
	facts           string
	fullVerify      bool
	schemes         []string
	maxDownload     int64
	maxUnpacked     int64
	maxFiles        int
	maxPathLength   int
	maxRedirects    int
	downloadTimeout time.Duration
	matcher         match.Limits
	parallel        int
	verbose         bool
}

func (n *nodeFlags) register(cmd *fisk.CmdClause) {
	fd, al := fetch.DefaultOptions(), archive.DefaultLimits()
	cmd.Flag("dir", "The machines directory to manage (e.g. /etc/choria/machines)").Required().ExistingDirVar(&n.dir)
	cmd.Flag("public-key", "A trusted ed25519 public key, 64 hex characters or a file holding them; repeat for rotation").StringsVar(&n.publicKeys)
	cmd.Flag("insecure", "Acts on unsigned specifications when no public key is given").UnNegatableBoolVar(&n.insecure)
	cmd.Flag("purge", "Removes machines mms installed that the specification no longer wants here").UnNegatableBoolVar(&n.purge)
	cmd.Flag("identity", "The node identity matchers see (default: this host's name)").StringVar(&n.identity)
	cmd.Flag("facts", "A JSON file of the node's facts, read by get_fact()").ExistingFileVar(&n.facts)
	cmd.Flag("full-verify", "Re-hashes every installed file instead of trusting unchanged inode stamps").UnNegatableBoolVar(&n.fullVerify)
	cmd.Flag("allow-scheme", "A URL scheme archives may be fetched over; repeat (default: http and https)").StringsVar(&n.schemes)
	cmd.Flag("max-download-bytes", "Largest archive downloaded, in bytes").Default(fmt.Sprint(fd.MaxBytes)).Int64Var(&n.maxDownload)
	cmd.Flag("max-unpacked-bytes", "Largest total unpacked size of one archive, in bytes").Default(fmt.Sprint(al.MaxUnpackedBytes)).Int64Var(&n.maxUnpacked)
	cmd.Flag("max-files", "Most files and directories in one archive").Default(fmt.Sprint(al.MaxFiles)).IntVar(&n.maxFiles)
	cmd.Flag("max-path-length", "Longest name of a file in an archive, in bytes").Default(fmt.Sprint(al.MaxPathLength)).IntVar(&n.maxPathLength)
	cmd.Flag("max-redirects", "Most HTTP redirects followed for one download").Default(fmt.Sprint(fd.MaxRedirects)).IntVar(&n.maxRedirects)
	cmd.Flag("download-timeout", "Longest one download may take, retries included").Default(fd.Timeout.String()).DurationVar(&n.downloadTimeout)
	cmd.Flag("max-matcher-length", "Longest matcher expression, in characters").Default(fmt.Sprint(match.DefaultMaxLength)).IntVar(&n.matcher.MaxLength)
	cmd.Flag("max-matcher-nodes", "Largest matcher expression, in syntax nodes").Default(fmt.Sprint(match.DefaultMaxNodes)).IntVar(&n.matcher.MaxNodes)
	cmd.Flag("max-matcher-steps", "Most loop iterations and calls of one matcher evaluation").Default(fmt.Sprint(match.DefaultMaxSteps)).IntVar(&n.matcher.MaxSteps)
	cmd.Flag("max-matcher-bytes", "Most bytes one matcher evaluation may build or read from the facts").Default(fmt.Sprint(match.DefaultMaxBytes)).IntVar(&n.matcher.MaxBytes)
	cmd.Flag("max-matcher-time", "Longest one matcher evaluation may run").Default(match.DefaultMaxTime.String()).DurationVar(&n.matcher.MaxTime)
	cmd.Flag("parallel", "How many archives to download at once").Default(fmt.Sprint(machines.DefaultParallel)).IntVar(&n.parallel)
	cmd.Flag("verbose", "Logs every step, not only changes").Short('v').UnNegatableBoolVar(&n.verbose)
}

// keys loads the trusted public keys.
func (n *nodeFlags) keys() ([]ed25519.PublicKey, error) {
	var keys []ed25519.PublicKey
	for i, k := range n.publicKeys {
		pk, err := spec.LoadPublicKey(k)
		if err != nil {
			return nil, usageError("--public-key %d: %v", i+1, err)
		}
		keys = append(keys, pk)
	}
	if len(keys) == 0 && !n.insecure {
		return nil, usageError("no --public-key given: mms refuses to act on unsigned specifications unless told --insecure")
	}
	return keys, nil
}

// config builds the reconcile configuration the flags describe.
func (n *nodeFlags) config() (machines.Config, error) {
	keys, err := n.keys()
	if err != nil {
		return machines.Config{}, err
	}
	node, err := nodeFromFlags(n.identity, n.facts)
	if err != nil {
		return machines.Config{}, err
	}
	level := slog.LevelInfo
	if n.verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	f := fetch.DefaultOptions()
	f.MaxBytes, f.Timeout, f.MaxRedirects, f.Logger = n.maxDownload, n.downloadTimeout, n.maxRedirects, logger
	if len(n.schemes) > 0 {
		f.AllowedSchemes = n.schemes
	}
	if err := f.Validate(); err != nil {
		return machines.Config{}, usageError("%v", err)
	}
	a := archive.Limits{MaxUnpackedBytes: n.maxUnpacked, MaxFiles: n.maxFiles, MaxPathLength: n.maxPathLength}
	if n.maxUnpacked <= 0 || n.maxFiles <= 0 || n.maxPathLength <= 0 || n.parallel <= 0 {
		return machines.Config{}, usageError("--max-unpacked-bytes, --max-files, --max-path-length and --parallel must be positive")
	}
	if m := n.matcher; m.MaxLength <= 0 || m.MaxNodes <= 0 || m.MaxSteps <= 0 || m.MaxBytes <= 0 || m.MaxTime <= 0 {
		return machines.Config{}, usageError("the --max-matcher-* limits must be positive")
	}
	return machines.Config{
		Dir:        n.dir,
		Node:       node,
		Trust:      spec.Trust{Keys: keys, InsecureAllowUnsigned: n.insecure},
		Purge:      n.purge,
		FullVerify: n.fullVerify,
		Fetch:      f,
		Archive:    a,
		Matcher:    n.matcher,
		Parallel:   n.parallel,
		Logger:     logger,
	}, nil
}

package main

import (
	"crypto/ed25519"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"

	"github.com/choria-io/fisk"
	"github.com/mms-io/mms/machines"
	"github.com/mms-io/mms/machines/keyring"
	"github.com/mms-io/mms/machines/spec"
	"github.com/mms-io/mms/nodeloop"
)

// nodeFlags are the flags of every command that acts on a machines directory (apply, agent):
// one definition, so that they mean the same everywhere. The node's settings (limits, purge,
// splay, ...) are made from nodeloop.Table, as the Choria watcher's properties are.
type nodeFlags struct {
	dir        string
	publicKeys []string
	// keyringRoots and keyringThreshold are the anchor of a keyring the node trusts;
	// keyringFiles (mms apply) are its versions on disk.
	keyringRoots     []string
	keyringThreshold int
	keyringFiles     []string
	insecure         bool
	identity         string
	facts            string
	fullVerify       bool
	verbose          bool
	quiet            bool
	logFormat        string

	// scope is the widest scope of the settings the command takes.
	scope nodeloop.Scope
	settingFlags
}

func (n *nodeFlags) register(cmd *fisk.CmdClause, scope nodeloop.Scope) {
	cmd.Flag("dir", "The machines directory to manage (e.g. /etc/choria/machines)").Required().ExistingDirVar(&n.dir)
	cmd.Flag("public-key", "A trusted ed25519 public key, 64 hex characters or a file holding them; repeat for rotation").StringsVar(&n.publicKeys)
	cmd.Flag("keyring-root", "A root key of the keyring this node trusts (64 hex characters or a file); repeat for each root").StringsVar(&n.keyringRoots)
	cmd.Flag("keyring-threshold", "How many --keyring-root keys must sign the first keyring taken (may be left out with one root)").IntVar(&n.keyringThreshold)
	if scope == nodeloop.ScopeReconcile {
		cmd.Flag("keyring", "A keyring document (a version of the keyring the roots sign); repeat for each version to walk through").ExistingFilesVar(&n.keyringFiles)
	}
	cmd.Flag("insecure", "Acts on unsigned specifications when no public key or keyring is given").UnNegatableBoolVar(&n.insecure)
	cmd.Flag("identity", "The node identity matchers see (default: this host's name)").StringVar(&n.identity)
	cmd.Flag("facts", "A JSON file of the node's facts, read by get_fact()").ExistingFileVar(&n.facts)
	cmd.Flag("full-verify", "Re-hashes every installed file at every reconcile instead of trusting unchanged inode stamps").UnNegatableBoolVar(&n.fullVerify)
	n.scope = scope
	n.settingFlags.register(cmd, func(st nodeloop.Setting) bool { return st.Scope <= scope })
	cmd.Flag("verbose", "Logs every step, not only changes").Short('v').UnNegatableBoolVar(&n.verbose)
	cmd.Flag("quiet", "Logs only warnings and errors").Short('q').UnNegatableBoolVar(&n.quiet)
	cmd.Flag("log-format", "How to write log lines: text (key=value) or json (one object per line, for journald or a collector)").Default("text").EnumVar(&n.logFormat, "text", "json")
}

// logger is the logger the flags ask for, writing to w.
func (n *nodeFlags) logger(w io.Writer) (*slog.Logger, error) {
	level := slog.LevelInfo
	switch {
	case n.verbose && n.quiet:
		return nil, usageError("--verbose and --quiet ask for opposite things: give one")
	case n.verbose:
		level = slog.LevelDebug
	case n.quiet:
		level = slog.LevelWarn
	}
	return n.loggerAt(w, level), nil
}

// loggerAt is a logger in the flags' format, writing to w what is at least level.
func (n *nodeFlags) loggerAt(w io.Writer, level slog.Level) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if n.logFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// settingFlags are the flags of some of nodeloop.Table's settings, made from the table.
type settingFlags struct {
	// text, bools and lists hold each setting's flag as given, by setting name.
	text  map[string]*string
	bools map[string]*bool
	lists map[string]*[]string
	// settings are the node's settings once parseSettings has read the flags.
	settings nodeloop.Settings
}

// register adds a flag to cmd for each setting include takes.
func (f *settingFlags) register(cmd *fisk.CmdClause, include func(nodeloop.Setting) bool) {
	f.text, f.bools, f.lists = map[string]*string{}, map[string]*bool{}, map[string]*[]string{}
	defaults := nodeloop.DefaultSettings()
	for _, st := range nodeloop.Table {
		if !include(st) {
			continue
		}
		switch st.Kind {
		case nodeloop.KindBool:
			f.bools[st.Name] = new(bool)
			cmd.Flag(st.FlagName(), st.Help).UnNegatableBoolVar(f.bools[st.Name])
		case nodeloop.KindSchemes:
			f.lists[st.Name] = new([]string)
			cmd.Flag(st.FlagName(), st.Help+"; repeat (default: "+st.Get(&defaults)+")").StringsVar(f.lists[st.Name])
		default:
			f.text[st.Name] = new(string)
			cmd.Flag(st.FlagName(), st.Help+" ("+string(st.Kind)+")").Default(st.Get(&defaults)).StringVar(f.text[st.Name])
		}
	}
}

// parseSettings reads the settings' flags into f.settings; the settings with no flag keep
// their defaults.
func (f *settingFlags) parseSettings() error {
	f.settings = nodeloop.DefaultSettings()
	for _, st := range nodeloop.Table {
		var text string
		switch {
		case f.bools[st.Name] != nil:
			text = strconv.FormatBool(*f.bools[st.Name])
		case f.lists[st.Name] != nil:
			if len(*f.lists[st.Name]) == 0 {
				continue
			}
			text = strings.Join(*f.lists[st.Name], ",")
		case f.text[st.Name] != nil:
			text = *f.text[st.Name]
		default:
			continue // a setting this command does not take
		}
		if err := st.Set(&f.settings, text); err != nil {
			return usageError("--%s: %v", st.FlagName(), err)
		}
	}
	return nil
}

// keys loads the trusted public keys.
func (n *nodeFlags) keys() ([]ed25519.PublicKey, error) {
	keys, err := loadKeys("--public-key", n.publicKeys)
	if err != nil {
		return nil, err
	}
	if len(keys) == 0 && len(n.keyringRoots) == 0 && !n.insecure {
		return nil, usageError("no --public-key or --keyring-root given: mms refuses to act on unsigned specifications unless told --insecure")
	}
	return keys, nil
}

// anchor is the keyring anchor the flags give; zero without --keyring-root.
func (n *nodeFlags) anchor() (keyring.Anchor, error) {
	if len(n.keyringRoots) == 0 && len(n.keyringFiles) > 0 {
		return keyring.Anchor{}, usageError("--keyring needs --keyring-root, the root keys the keyring is checked against")
	}
	a, err := anchorFromFlags("--keyring-root", "--keyring-threshold", n.keyringRoots, n.keyringThreshold)
	if err != nil || a == nil {
		return keyring.Anchor{}, err
	}
	return *a, nil
}

// fileKeeper is the keeper of the keyring a one-shot command walks through the --keyring files
// (nil without --keyring-root).
func (n *nodeFlags) fileKeeper(log *slog.Logger) (*keyring.Keeper, error) {
	a, err := n.anchor()
	if err != nil || a.IsZero() {
		return nil, err
	}
	docs := map[string][]byte{}
	for _, f := range n.keyringFiles {
		doc, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("read keyring %s: %w", f, err)
		}
		docs[f] = doc
	}
	fetch, err := keyring.FromDocuments(docs)
	if err != nil {
		return nil, usageError("--keyring: %v", err)
	}
	return nodeloop.NewKeeper(n.dir, a, fetch, "the --keyring files", log), nil
}

// config builds the reconcile configuration the flags describe.
func (n *nodeFlags) config() (machines.Config, error) {
	if err := n.parseSettings(); err != nil {
		return machines.Config{}, err
	}
	if n.scope == nodeloop.ScopeReconcile {
		// A one-shot command acts at once: the splay spreads a fleet's daemons.
		n.settings.Splay = 0
	}
	if _, err := n.anchor(); err != nil {
		return machines.Config{}, err
	}
	keys, err := n.keys()
	if err != nil {
		return machines.Config{}, err
	}
	node, err := nodeFromFlags(n.identity, n.facts)
	if err != nil {
		return machines.Config{}, err
	}
	logger, err := n.logger(os.Stderr)
	if err != nil {
		return machines.Config{}, err
	}
	var kp *keyring.Keeper
	if n.scope == nodeloop.ScopeReconcile {
		if kp, err = n.fileKeeper(logger); err != nil {
			return machines.Config{}, err
		}
	}
	cfg := machines.Config{
		Dir:        n.dir,
		Node:       node,
		Trust:      spec.Trust{Keys: keys, InsecureAllowUnsigned: n.insecure},
		FullVerify: n.fullVerify,
		Logger:     logger,
		RaiseHint:  flagHint,
	}
	// A one-shot command walks the --keyring files; mms agent reads the keyring beside the
	// specification's key once it is connected.
	if kp != nil {
		cfg.Keyring = kp
	}
	cfg.Fetch.Logger = logger
	n.settings.Apply(&cfg)
	return cfg, nil
}

// flagHint is how the CLI says to raise a limit: with its flag.
func flagHint(limit string) string {
	if s, ok := nodeloop.Lookup(limit); ok {
		return "--" + s.FlagName()
	}
	return ""
}

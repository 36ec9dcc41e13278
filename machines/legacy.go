package machines

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"gopkg.in/yaml.v3"

	"github.com/mms-io/mms/machines/fetch"
	"github.com/mms-io/mms/machines/spec"
)

// This file recognises the manager machines that go-choria v0.29.4 writes beside the machines
// it installs, so that mms can take a fleet over from them (see MakePlan and the README's
// "Migrating from go-choria").
//
// Both of go-choria's managers, the `machines` watcher (aagent/watchers/machineswatcher,
// template machine.yaml) and the stock plugins manager that `plugin.machines.download` enables
// (aagent/watchers/pluginswatcher, template machine.yaml, prefix "mm"), render for every entry
// <name> a directory <machinesdir>/mm_<name>/ holding one file, machine.yaml: a machine named
// "mm_<name>" whose only watcher, of type archive, downloads the entry's archive and unpacks it
// as <target>/<creates>, with target the machines directory and creates the entry name. While
// Choria runs that machine, its archive watcher re-downloads <name> whenever <name> stops
// verifying against its verify_checksum, and replaces it (RemoveAll, then rename).

// GoChoriaManagerPrefix is the prefix of the manager machines go-choria v0.29.4 renders: its
// machines watcher always uses "mm", and the stock plugins manager sets manager_machine_prefix
// to "mm" too. A plugins watcher configured by hand with another prefix is not recognised.
const GoChoriaManagerPrefix = "mm"

// MaxManagerYAML bounds the machine.yaml read from a candidate manager directory: 64 KiB. The
// rendering is well under 2 KiB; a larger file is not one go-choria wrote.
const MaxManagerYAML = 64 << 10

// managerFile is the one file a rendered manager directory holds.
const managerFile = "machine.yaml"

// ErrNotGoChoriaManager means a directory named like a go-choria manager (mm_<name>) does not
// hold exactly what go-choria renders for that name, so mms leaves it alone.
var ErrNotGoChoriaManager = errors.New("not a go-choria manager rendering")

// GoChoriaManager is a manager directory that holds exactly what go-choria v0.29.4 renders for
// one machine: see IsGoChoriaManager for the rule.
type GoChoriaManager struct {
	// Dir is the directory's name in the machines directory, e.g. "mm_web".
	Dir string
	// Machine is the machine it installs, its archive watcher's `creates`, e.g. "web".
	Machine string
	// Source is the archive URL it downloads, with any credentials redacted.
	Source string
	// Checksum is the sha256 hex of that archive, as the rendering says.
	Checksum string
	// VerifyChecksum is the sha256 hex of the SHA256SUMS file inside it, as the rendering says.
	VerifyChecksum string
}

// GoChoriaManagerDir returns the name of the directory go-choria renders for machine:
// "mm_<machine>".
func GoChoriaManagerDir(machine string) string {
	return GoChoriaManagerPrefix + "_" + machine
}

// FindGoChoriaManager looks for the go-choria manager of machine in machinesDir. It returns
// (nil, nil) when <machinesDir>/mm_<machine> does not exist; the manager when the directory is
// go-choria's rendering for machine (IsGoChoriaManager); and otherwise an error wrapping
// ErrNotGoChoriaManager that says why, or the I/O error. It never follows a symlink and
// changes nothing.
func FindGoChoriaManager(machinesDir, machine string) (*GoChoriaManager, error) {
	if err := spec.ValidName(machine); err != nil {
		return nil, fmt.Errorf("find go-choria manager: %w", err)
	}
	dirName := GoChoriaManagerDir(machine)
	root, err := os.OpenRoot(machinesDir)
	if err != nil {
		return nil, fmt.Errorf("find go-choria manager of %q: %w", machine, err)
	}
	defer root.Close()
	fi, err := root.Lstat(dirName)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("find go-choria manager of %q: %w", machine, err)
	}
	data, err := readManagerDir(root, dirName, fi)
	if err != nil {
		return nil, err
	}
	return ParseGoChoriaManager(data, machinesDir, machine)
}

// readManagerDir returns the content of dirName/machine.yaml after checking that dirName is a
// real directory holding that one regular file and nothing else.
func readManagerDir(root *os.Root, dirName string, fi fs.FileInfo) ([]byte, error) {
	not := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s %s", ErrNotGoChoriaManager, dirName, fmt.Sprintf(format, args...))
	}
	if !fi.IsDir() {
		return nil, not("is a %s, not a directory", typeName(fi.Mode()))
	}
	entries, err := fs.ReadDir(root.FS(), dirName)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", filepath.Join(root.Name(), dirName), err)
	}
	if len(entries) != 1 || entries[0].Name() != managerFile {
		names := make([]string, len(entries))
		for i, e := range entries {
			names[i] = e.Name()
		}
		return nil, not("holds %q, not only %s", names, managerFile)
	}
	if t := entries[0].Type(); !t.IsRegular() {
		return nil, not("holds %s as a %s, not a regular file", managerFile, typeName(t))
	}
	f, err := root.OpenFile(filepath.Join(dirName, managerFile), os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", filepath.Join(root.Name(), dirName, managerFile), err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxManagerYAML+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", filepath.Join(root.Name(), dirName, managerFile), err)
	}
	if len(data) > MaxManagerYAML {
		return nil, not("holds a %s larger than %d bytes (MaxManagerYAML)", managerFile, MaxManagerYAML)
	}
	return data, nil
}

// typeName names a file type for messages.
func typeName(m fs.FileMode) string {
	switch {
	case m&fs.ModeSymlink != 0:
		return "symlink"
	case m.IsDir():
		return "directory"
	case m.IsRegular():
		return "regular file"
	}
	return m.Type().String()
}

// The keys go-choria's templates render, at each level. Anything else means somebody wrote or
// edited the file.
var (
	managerKeys    = keySet("name", "version", "initial_state", "transitions", "watchers")
	watcherKeys    = keySet("name", "type", "interval", "state_match", "properties")
	propertiesKeys = keySet("source", "checksum", "verify", "verify_checksum", "creates", "target", "username", "password", "governor")
)

func keySet(keys ...string) map[string]bool {
	m := make(map[string]bool, len(keys))
	for _, k := range keys {
		m[k] = true
	}
	return m
}

// managerYAML is the part of a rendered manager that IsGoChoriaManager reads.
type managerYAML struct {
	Name     string `yaml:"name"`
	Watchers []struct {
		Type       string `yaml:"type"`
		Properties struct {
			Source         string `yaml:"source"`
			Checksum       string `yaml:"checksum"`
			VerifyChecksum string `yaml:"verify_checksum"`
			Creates        string `yaml:"creates"`
			Target         string `yaml:"target"`
		} `yaml:"properties"`
	} `yaml:"watchers"`
}

// ParseGoChoriaManager decides whether data, the machine.yaml of <machinesDir>/mm_<machine>, is
// what go-choria v0.29.4 renders for machine into machinesDir. It is, exactly when:
//
//   - data is one YAML document (no second document, no duplicate key) holding a mapping whose
//     keys are among those go-choria's templates render (name, version, initial_state,
//     transitions, watchers);
//   - name is "mm_<machine>";
//   - watchers lists exactly one watcher, whose keys are among name, type, interval,
//     state_match and properties, whose type is "archive", and whose properties' keys are among
//     source, checksum, verify, verify_checksum, creates, target, username, password, governor;
//   - properties.creates is machine; and
//   - properties.target, cleaned, equals the cleaned absolute path of machinesDir (no symlink
//     is resolved on either side: a target spelled through a symlink is not recognised, and the
//     directory is left alone).
//
// Values go-choria copies from the entry or its configuration (intervals, checksums, source,
// credentials, governor) are not compared. The error wraps ErrNotGoChoriaManager and says which
// rule failed; it never quotes a password.
func ParseGoChoriaManager(data []byte, machinesDir, machine string) (*GoChoriaManager, error) {
	dirName := GoChoriaManagerDir(machine)
	not := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s %s", ErrNotGoChoriaManager, dirName, fmt.Sprintf(format, args...))
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		return nil, not("has a %s that is not YAML: %s", managerFile, yamlError(err))
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, not("has a %s with more than one YAML document", managerFile)
	}
	var raw map[string]any
	if err := doc.Decode(&raw); err != nil {
		return nil, not("has a %s that is not a YAML mapping: %s", managerFile, yamlError(err))
	}
	if k := unknownKey(raw, managerKeys); k != "" {
		return nil, not("has key %q, which go-choria does not render", k)
	}
	var m managerYAML
	if err := doc.Decode(&m); err != nil {
		return nil, not("has a %s go-choria did not render: %s", managerFile, yamlError(err))
	}
	if m.Name != dirName {
		return nil, not("names its machine %q, not %q", m.Name, dirName)
	}
	watchers, _ := raw["watchers"].([]any)
	if len(m.Watchers) != 1 || len(watchers) != 1 {
		return nil, not("has %d watchers, not exactly one", len(m.Watchers))
	}
	w, ok := watchers[0].(map[string]any)
	if !ok {
		return nil, not("has a watcher that is not a mapping")
	}
	if k := unknownKey(w, watcherKeys); k != "" {
		return nil, not("has watcher key %q, which go-choria does not render", k)
	}
	props, ok := w["properties"].(map[string]any)
	if !ok {
		return nil, not("has a watcher without properties")
	}
	if k := unknownKey(props, propertiesKeys); k != "" {
		return nil, not("has watcher property %q, which go-choria does not render", k)
	}
	mw := m.Watchers[0]
	if mw.Type != "archive" {
		return nil, not("has a watcher of type %q, not archive", mw.Type)
	}
	if mw.Properties.Creates != machine {
		return nil, not("has an archive watcher that creates %q, not %q", mw.Properties.Creates, machine)
	}
	abs, err := filepath.Abs(machinesDir)
	if err != nil {
		return nil, fmt.Errorf("inspect %s: %w", dirName, err)
	}
	if mw.Properties.Target == "" || filepath.Clean(mw.Properties.Target) != filepath.Clean(abs) {
		return nil, not("has an archive watcher whose target is %q, not %s", mw.Properties.Target, filepath.Clean(abs))
	}
	return &GoChoriaManager{
		Dir:            dirName,
		Machine:        machine,
		Source:         fetch.Source{URL: mw.Properties.Source}.String(),
		Checksum:       mw.Properties.Checksum,
		VerifyChecksum: mw.Properties.VerifyChecksum,
	}, nil
}

// yamlError returns err's text unless it quotes a value from the file (yaml.v3 quotes scalars
// between backticks), which could be a password: then only that the shape is wrong.
func yamlError(err error) string {
	if msg := err.Error(); !strings.Contains(msg, "`") {
		return msg
	}
	return "a value of the wrong type (not quoted here: it could be a credential)"
}

// unknownKey returns a key of m that allowed does not list, or "".
func unknownKey(m map[string]any, allowed map[string]bool) string {
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if !allowed[k] {
			return k
		}
	}
	return ""
}

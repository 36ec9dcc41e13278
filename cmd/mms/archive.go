package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/choria-io/fisk"
	"github.com/google/renameio/v2"
	"github.com/mms-io/mms/machines/archive"
	"github.com/mms-io/mms/machines/spec"
)

func init() { registerCommand(configureArchive) }

type archiveCommand struct {
	dir    string
	name   string
	out    string
	source string
	force  bool
	json   bool
}

func configureArchive(app *fisk.Application) {
	c := &archiveCommand{}
	cmd := app.Command("archive", "Checks a machine as Choria would load it, builds its deployable archive and prints its ready-to-paste entry").Action(action(c.run))
	cmd.Arg("dir", "The machine directory, holding machine.yaml").Required().ExistingDirVar(&c.dir)
	cmd.Flag("name", "The machine name, which the archive's top directory takes and machine.yaml must declare (default: the directory's name)").StringVar(&c.name)
	cmd.Flag("out", "The archive file to write (default: NAME.tar.gz)").StringVar(&c.out)
	cmd.Flag("source", "The URL the archive will be served from, for the printed entry").StringVar(&c.source)
	cmd.Flag("force", "Overwrites an existing archive file").UnNegatableBoolVar(&c.force)
	jsonFlag(cmd, &c.json)
}

// archiveDoc is mms archive's --json output (schema "mms.archive.v1").
type archiveDoc struct {
	Schema string `json:"schema"`
	// File is the archive written, as given by --out or defaulted.
	File string `json:"file"`
	// Files and Bytes count the regular files archived and their size, SHA256SUMS included.
	Files int   `json:"files"`
	Bytes int64 `json:"bytes"`
	// Entry is the specification entry the text output prints.
	Entry spec.Entry `json:"entry"`
}

// errInvalidMachine means a machine directory holds no machine.yaml that go-choria would load
// under the archive's name; mms archive refuses it before writing anything.
var errInvalidMachine = errors.New("invalid machine")

func (c *archiveCommand) run() error {
	nameFrom := "--name"
	if c.name == "" {
		abs, err := filepath.Abs(c.dir)
		if err != nil {
			return err
		}
		c.name, nameFrom = filepath.Base(abs), "the directory's name"
	}
	if err := spec.ValidName(c.name); err != nil {
		return usageError("--name: %v", err)
	}
	// Before anything is written: archive.Build (re)writes DIR/SHA256SUMS first of all.
	if err := checkMachine(c.dir, c.name, nameFrom); err != nil {
		return fmt.Errorf("archive %s: %w", c.dir, err)
	}
	if c.out == "" {
		c.out = c.name + ".tar.gz"
	}
	if _, err := os.Stat(c.out); err == nil && !c.force {
		return fmt.Errorf("%s exists; pass --force to overwrite it", c.out)
	}
	f, err := renameio.NewPendingFile(c.out, renameio.WithPermissions(0o644))
	if err != nil {
		return fmt.Errorf("write %s: %w", c.out, err)
	}
	defer f.Cleanup()
	res, err := archive.Build(c.dir, c.name, f)
	if err != nil {
		return fmt.Errorf("archive %s: %w", c.dir, err)
	}
	if err := f.CloseAtomicallyReplace(); err != nil {
		return fmt.Errorf("write %s: %w", c.out, err)
	}
	entry := spec.Entry{Name: c.name, Source: c.source, Checksum: res.Checksum, VerifyChecksum: res.VerifyChecksum}
	fmt.Fprintf(os.Stderr, "Wrote %s: %d files, %d bytes; SHA256SUMS written in %s\n", c.out, res.Files, res.Bytes, c.dir)
	if c.source == "" {
		fmt.Fprintf(os.Stderr, "Set \"source\" to the URL %s will be served from (or pass --source)\n", c.out)
	}
	if c.json {
		return writeJSON(os.Stdout, archiveDoc{Schema: "mms.archive.v1", File: c.out, Files: res.Files, Bytes: res.Bytes, Entry: entry})
	}
	return writeJSON(os.Stdout, entry)
}

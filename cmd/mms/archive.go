package main

import (
	"encoding/json"
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
}

func configureArchive(app *fisk.Application) {
	c := &archiveCommand{}
	cmd := app.Command("archive", "Builds a deployable machine archive and prints its ready-to-paste entry").Action(action(c.run))
	cmd.Arg("dir", "The machine directory, holding machine.yaml").Required().ExistingDirVar(&c.dir)
	cmd.Flag("name", "The machine name, which the archive's top directory takes (default: the directory's name)").StringVar(&c.name)
	cmd.Flag("out", "The archive file to write (default: NAME.tar.gz)").StringVar(&c.out)
	cmd.Flag("source", "The URL the archive will be served from, for the printed entry").StringVar(&c.source)
	cmd.Flag("force", "Overwrites an existing archive file").UnNegatableBoolVar(&c.force)
}

func (c *archiveCommand) run() error {
	if c.name == "" {
		abs, err := filepath.Abs(c.dir)
		if err != nil {
			return err
		}
		c.name = filepath.Base(abs)
	}
	if err := spec.ValidName(c.name); err != nil {
		return usageError("--name: %v", err)
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
	out, err := json.MarshalIndent(entry, "", "  ")
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "Wrote %s: %d files, %d bytes; SHA256SUMS written in %s\n", c.out, res.Files, res.Bytes, c.dir)
	if c.source == "" {
		fmt.Fprintf(os.Stderr, "Set \"source\" to the URL %s will be served from (or pass --source)\n", c.out)
	}
	fmt.Println(string(out))
	return nil
}

package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/choria-io/fisk"
	"github.com/google/renameio/v2"
	"github.com/mms-io/mms/machines/archive"
	"github.com/mms-io/mms/machines/spec"
	"github.com/mms-io/mms/objstore"
)

func init() { registerCommand(configureArchive) }

type archiveCommand struct {
	dir    string
	name   string
	out    string
	source string
	force  bool
	json   bool
	// publish is the Object Store bucket to upload the archive to (--publish); object its
	// name there, replicas the bucket's when it is created.
	publish  string
	object   string
	replicas int
	timeout  time.Duration
	kv       kvFlags
}

func configureArchive(app *fisk.Application) {
	c := &archiveCommand{}
	cmd := app.Command("archive", "Checks a machine as Choria would load it, builds its deployable archive and prints its ready-to-paste entry").Action(action(c.run))
	cmd.Arg("dir", "The machine directory, holding machine.yaml").Required().ExistingDirVar(&c.dir)
	cmd.Flag("name", "The machine name, which the archive's top directory takes and machine.yaml must declare (default: the directory's name)").StringVar(&c.name)
	cmd.Flag("out", "The archive file to write (default: NAME.tar.gz)").StringVar(&c.out)
	cmd.Flag("source", "The URL the archive will be served from, for the printed entry").StringVar(&c.source)
	cmd.Flag("force", "Overwrites an existing archive file, or an object of another content with --publish").UnNegatableBoolVar(&c.force)
	cmd.Flag("publish", "Uploads the archive to this NATS JetStream Object Store bucket (created when missing) and prints the entry with its obj:// source").PlaceHolder("BUCKET").StringVar(&c.publish)
	cmd.Flag("object", "The archive's object name in the --publish bucket (default: NAME-CHECKSUM.tar.gz, the first 16 hex digits of its sha256, so that a release never replaces another)").StringVar(&c.object)
	cmd.Flag("replicas", "Servers holding the --publish bucket when it is created (3 in a production cluster)").Default("1").IntVar(&c.replicas)
	cmd.Flag("timeout", "The longest --publish may take: connecting, checking and uploading").Default(defaultPublishTimeout.String()).DurationVar(&c.timeout)
	c.kv.registerConnection(cmd, "The NATS server URL for --publish (default: "+defaultServer+", where mms agent's embedded server listens; give --dir for its credentials)")
	c.kv.registerDir(cmd)
	c.kv.registerProfiles(cmd)
	jsonFlag(cmd, &c.json)
}

// archiveDoc is mms archive's --json output (schema "mms.archive.v1").
type archiveDoc struct {
	Schema string `json:"schema"`
	// File is the archive written, as given by --out or defaulted; empty when --publish
	// uploaded it without --out.
	File string `json:"file,omitempty"`
	// Files and Bytes count the regular files archived and their size, SHA256SUMS included.
	Files int   `json:"files"`
	Bytes int64 `json:"bytes"`
	// Entry is the specification entry the text output prints.
	Entry spec.Entry `json:"entry"`
	// Published says where --publish uploaded the archive.
	Published *publishedDoc `json:"published,omitempty"`
}

// errInvalidMachine means a machine directory holds no machine.yaml that go-choria would load
// under the archive's name; mms archive refuses it before writing anything.
var errInvalidMachine = errors.New("invalid machine")

func (c *archiveCommand) run() error {
	if err := c.checkFlags(); err != nil {
		return err
	}
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
	if c.out == "" && c.publish == "" {
		c.out = c.name + ".tar.gz"
	}
	if c.out != "" {
		if _, err := os.Stat(c.out); err == nil && !c.force {
			return fmt.Errorf("%s exists; pass --force to overwrite it", c.out)
		}
	}
	file, res, err := c.build()
	if err != nil {
		return err
	}
	defer file.Close()
	entry := spec.Entry{Name: c.name, Source: c.source, Checksum: res.Checksum, VerifyChecksum: res.VerifyChecksum}
	doc := archiveDoc{Schema: "mms.archive.v1", File: c.out, Files: res.Files, Bytes: res.Bytes, Entry: entry}
	if c.out != "" {
		fmt.Fprintf(os.Stderr, "Wrote %s: %d files, %d bytes; SHA256SUMS written in %s\n", c.out, res.Files, res.Bytes, c.dir)
	} else {
		fmt.Fprintf(os.Stderr, "Built %s: %d files, %d bytes; SHA256SUMS written in %s\n", c.name, res.Files, res.Bytes, c.dir)
	}
	if c.publish != "" {
		pub, err := c.upload(file, res.Checksum)
		if err != nil {
			return err
		}
		doc.Published, doc.Entry.Source = pub, pub.Source
	} else if c.source == "" {
		fmt.Fprintf(os.Stderr, "Set \"source\" to the URL %s will be served from (or pass --source, or --publish BUCKET to upload it to the NATS Object Store)\n", c.out)
	}
	if c.json {
		return writeJSON(os.Stdout, doc)
	}
	return writeJSON(os.Stdout, doc.Entry)
}

// checkFlags refuses flags that contradict each other before anything is built.
func (c *archiveCommand) checkFlags() error {
	if c.publish == "" {
		if c.object != "" {
			return usageError("--object names the archive in the --publish bucket: give --publish too")
		}
		return nil
	}
	if c.source != "" {
		return usageError("--source and --publish each say where the archive is served from: give one")
	}
	if err := objstore.CheckBucket(c.publish); err != nil {
		return usageError("--publish: %v", err)
	}
	if c.replicas < 1 {
		return usageError("--replicas must be at least 1, got %d", c.replicas)
	}
	if c.timeout <= 0 {
		return usageError("--timeout must be positive, got %s", c.timeout)
	}
	return nil
}

// build writes the archive to --out (atomically), or with --publish alone to a temporary
// file, and returns the file, open at its start, for the upload; the caller closes it.
func (c *archiveCommand) build() (*os.File, archive.BuildResult, error) {
	if c.out == "" {
		f, err := os.CreateTemp("", "mms-archive-*.tar.gz")
		if err != nil {
			return nil, archive.BuildResult{}, fmt.Errorf("archive %s: %w", c.dir, err)
		}
		os.Remove(f.Name()) // unnamed: gone when closed, whatever happens
		res, err := archive.Build(c.dir, c.name, f)
		if err != nil {
			f.Close()
			return nil, res, fmt.Errorf("archive %s: %w", c.dir, err)
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			f.Close()
			return nil, res, fmt.Errorf("archive %s: %w", c.dir, err)
		}
		return f, res, nil
	}
	f, err := renameio.NewPendingFile(c.out, renameio.WithPermissions(0o644))
	if err != nil {
		return nil, archive.BuildResult{}, fmt.Errorf("write %s: %w", c.out, err)
	}
	defer f.Cleanup()
	res, err := archive.Build(c.dir, c.name, f)
	if err != nil {
		return nil, res, fmt.Errorf("archive %s: %w", c.dir, err)
	}
	if err := f.CloseAtomicallyReplace(); err != nil {
		return nil, res, fmt.Errorf("write %s: %w", c.out, err)
	}
	out, err := os.Open(c.out)
	if err != nil {
		return nil, res, fmt.Errorf("read %s: %w", c.out, err)
	}
	return out, res, nil
}

//go:build !mms_node

package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/choria-io/go-choria/aagent/machine"
	aawatchers "github.com/choria-io/go-choria/aagent/watchers"
	"github.com/mms-io/mms/machines/archive"
)

// nodeBuild says this is a node build of mms (-tags mms_node): this one is a full build.
const nodeBuild = false

// checkMachine loads dir/machine.yaml as Choria's autonomous agent loads a machine directory
// (go-choria's machine.FromDir with a watcher manager: the YAML decoded into machine.Machine,
// then its Validate and state machine built; nothing is run) and checks that it names the
// machine name, which nameFrom says where it came from. It refuses, wrapping
// errInvalidMachine, a missing machine.yaml, invalid YAML (with go-choria's YAML library's
// [line:column]), whatever go-choria's loader refuses (in its words), and another name.
//
// A watcher type is not checked: go-choria looks it up only when the machine starts, among
// the watchers compiled into that node's choria.
func checkMachine(dir, name, nameFrom string) error {
	manifest := filepath.Join(dir, archive.ManifestFile)
	fi, err := os.Lstat(manifest)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%w: no %s: a machine directory must hold the %s Choria loads", errInvalidMachine, archive.ManifestFile, archive.ManifestFile)
	case err != nil:
		return fmt.Errorf("%w: %v", errInvalidMachine, err)
	case !fi.Mode().IsRegular():
		return fmt.Errorf("%w: %s is not a regular file", errInvalidMachine, archive.ManifestFile)
	}

	m, err := machine.FromDir(dir, aawatchers.New(context.Background()))
	if err != nil {
		// FromDir's error does not say whether the YAML or the machine was wrong. ValidateDir
		// returns its YAML library's error unwrapped; its schema problems are not used here,
		// since that v1 schema predates watcher types Choria runs (machines, archive, ...).
		if _, yerr := machine.ValidateDir(dir); yerr != nil {
			return fmt.Errorf("%w: %s is not valid YAML: %s", errInvalidMachine, archive.ManifestFile, strings.TrimSpace(yerr.Error()))
		}
		return fmt.Errorf("%w: go-choria refuses it: %s", errInvalidMachine, strings.TrimSpace(err.Error()))
	}
	if got := m.Name(); got != name {
		return fmt.Errorf("%w: %s names the machine %q but the archive is named %q (%s): Choria would run %q from the directory %q; set `name: %s` in %s, or pass --name %s",
			errInvalidMachine, archive.ManifestFile, got, name, nameFrom, got, name, name, archive.ManifestFile, got)
	}
	return nil
}

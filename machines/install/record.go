package install

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"time"

	"github.com/mms-io/mms/machines/spec"
	"github.com/mms-io/mms/machines/sums"
)

// Managed is what mms remembers of a machine it installed.
type Managed struct {
	// Name is the machine's directory name under the machines directory.
	Name string `json:"name"`
	// Checksum is the sha256 hex of the archive installed.
	Checksum string `json:"checksum"`
	// VerifyChecksum is the sha256 hex of the SHA256SUMS file inside it.
	VerifyChecksum string `json:"verify_checksum"`
	// Source is the archive URL with any credentials redacted.
	Source string `json:"source"`
	// InstalledAt is when Commit (or Adopt) recorded it.
	InstalledAt time.Time `json:"installed_at"`
	// Files is the verification cache of the installed files.
	Files sums.Cache `json:"files,omitempty"`
}

func (m Managed) clone() Managed {
	m.Files = maps.Clone(m.Files)
	return m
}

// Op names an unfinished operation in an Intent.
type Op string

const (
	// OpInstall is a Commit that wrote its intent and may or may not have swapped.
	OpInstall Op = "install"
	// OpRemove is a Remove that wrote its intent and may or may not have renamed the machine away.
	OpRemove Op = "remove"
)

// Intent is an operation written to the record before it touches the machine directory, so
// that Open can tell after a crash whether it happened: it did exactly when <name> carries
// Inode (for OpInstall) or no longer carries it (for OpRemove).
type Intent struct {
	// Op is the operation.
	Op Op `json:"op"`
	// Inode is the inode of the staged tree (OpInstall) or of the machine removed (OpRemove).
	Inode uint64 `json:"inode"`
	// Machine is the record entry the operation installs or removes.
	Machine Managed `json:"machine"`
}

// Record is the content of .mms/state.json.
type Record struct {
	// Machines are the machines mms installed, by name.
	Machines map[string]Managed `json:"machines"`
	// Accepted is the last specification accepted for this directory; nil when none.
	Accepted *spec.Accepted `json:"accepted,omitempty"`
	// Pending holds the unfinished operations a crash left, by machine name; Open resolves them.
	Pending map[string]Intent `json:"pending,omitempty"`
	// Previous are the versions CommitKeepingPrevious replaced, kept for Revert, by machine name.
	Previous map[string]Previous `json:"previous,omitempty"`
}

func (r Record) clone() Record {
	c := Record{Machines: make(map[string]Managed, len(r.Machines)), Pending: make(map[string]Intent, len(r.Pending)), Previous: make(map[string]Previous, len(r.Previous))}
	for k, p := range r.Previous {
		p.Machine = p.Machine.clone()
		c.Previous[k] = p
	}
	for k, m := range r.Machines {
		c.Machines[k] = m.clone()
	}
	for k, in := range r.Pending {
		in.Machine = in.Machine.clone()
		c.Pending[k] = in
	}
	if r.Accepted != nil {
		a := *r.Accepted
		c.Accepted = &a
	}
	return c
}

// DecodeRecord parses the content of a state.json. Anything that does not parse, or that
// names a machine badly, is an error wrapping ErrRecord: a record is never guessed.
func DecodeRecord(data []byte) (Record, error) {
	var r Record
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&r); err != nil {
		return Record{}, fmt.Errorf("%w: %v", ErrRecord, err)
	}
	if dec.More() {
		return Record{}, fmt.Errorf("%w: trailing data after the record", ErrRecord)
	}
	if r.Machines == nil {
		// mms always writes the key, even empty: a record without it (null, {}) was not written
		// by mms and is not guessed to be empty.
		return Record{}, fmt.Errorf("%w: no machines object", ErrRecord)
	}
	if r.Pending == nil {
		r.Pending = map[string]Intent{}
	}
	if r.Previous == nil {
		r.Previous = map[string]Previous{}
	}
	for k, p := range r.Previous {
		if err := spec.ValidName(k); err != nil {
			return Record{}, fmt.Errorf("%w: previous: %v", ErrRecord, err)
		}
		if p.Machine.Name != k {
			return Record{}, fmt.Errorf("%w: previous: entry %q is named %q", ErrRecord, k, p.Machine.Name)
		}
	}
	for k, m := range r.Machines {
		if err := spec.ValidName(k); err != nil {
			return Record{}, fmt.Errorf("%w: machines: %v", ErrRecord, err)
		}
		if m.Name != k {
			return Record{}, fmt.Errorf("%w: machines: entry %q is named %q", ErrRecord, k, m.Name)
		}
	}
	for k, in := range r.Pending {
		if err := spec.ValidName(k); err != nil {
			return Record{}, fmt.Errorf("%w: pending: %v", ErrRecord, err)
		}
		if in.Machine.Name != k {
			return Record{}, fmt.Errorf("%w: pending: entry %q is named %q", ErrRecord, k, in.Machine.Name)
		}
		if in.Op != OpInstall && in.Op != OpRemove {
			return Record{}, fmt.Errorf("%w: pending: entry %q has unknown operation %q", ErrRecord, k, in.Op)
		}
	}
	return r, nil
}

// Encode renders the record as state.json holds it: compact, since it is read on every
// reconcile and holds a stamp for every managed file (mms status shows it to people).
func (r Record) Encode() ([]byte, error) {
	data, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	return append(data, '\n'), nil
}

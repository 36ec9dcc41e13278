package machines

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/mms-io/mms/machines/errs"
	"github.com/mms-io/mms/machines/install"
	"github.com/mms-io/mms/machines/spec"
	"github.com/mms-io/mms/machines/sums"
)

// Decide is tested from values alone: no directory, no archive, no store.

func sum(c byte) string { return strings.Repeat(string(c), 64) }

var (
	webEntry = spec.Entry{Name: "web", Source: "https://example.net/web.tgz", Checksum: sum('a'), VerifyChecksum: sum('b'), Match: "true"}
	webFiles = sums.Cache{"machine.yaml": {}}
	webRec   = install.Managed{Name: "web", Checksum: sum('a'), VerifyChecksum: sum('b')}
	oldRec   = install.Managed{Name: "web", Checksum: sum('c'), VerifyChecksum: sum('d')}
	verified = Found{Path: "/m/web", Exists: true, IsDir: true, Checked: true, Files: webFiles}
	failing  = Found{Path: "/m/web", Exists: true, IsDir: true, Checked: true, Verify: errors.New("machine.yaml: checksum mismatch")}
	manager  = &GoChoriaManager{Dir: "mm_web", Machine: "web", Source: "https://example.net/web-1.tgz", Checksum: sum('E'), VerifyChecksum: sum('f')}
)

func TestDecideFromValues(t *testing.T) {
	yes := Matched{OK: true}
	cases := []struct {
		name    string
		matched Matched
		found   Found
		managed map[string]install.Managed
		mgr     *ManagerFound
		purge   bool
		want    map[string]Action
		reason  string
	}{
		{name: "absent installs", matched: yes, found: Found{Path: "/m/web"},
			want: map[string]Action{"web": ActionInstall}},
		{name: "managed and verified is kept", matched: yes, found: verified, managed: map[string]install.Managed{"web": webRec},
			want: map[string]Action{"web": ActionKeep}},
		{name: "managed from another archive updates", matched: yes, found: Found{Path: "/m/web", Exists: true, IsDir: true}, managed: map[string]install.Managed{"web": oldRec},
			want: map[string]Action{"web": ActionUpdate}, reason: "changed from cccccccccccc"},
		{name: "managed and failing repairs", matched: yes, found: failing, managed: map[string]install.Managed{"web": webRec},
			want: map[string]Action{"web": ActionRepair}, reason: "checksum mismatch"},
		{name: "managed with strays repairs", matched: yes, found: Found{Path: "/m/web", Exists: true, IsDir: true, Checked: true, Files: webFiles, Strays: sums.Strays{Extra: []string{"evil.sh"}}},
			managed: map[string]install.Managed{"web": webRec}, want: map[string]Action{"web": ActionRepair}, reason: "evil.sh"},
		{name: "unmanaged and verified is adopted", matched: yes, found: verified,
			want: map[string]Action{"web": ActionAdopt}},
		{name: "unmanaged with extra files is refused", matched: yes, found: Found{Path: "/m/web", Exists: true, IsDir: true, Checked: true, Files: webFiles, Strays: sums.Strays{Extra: []string{"notes.txt"}}},
			want: map[string]Action{"web": ActionRefuse}, reason: "notes.txt"},
		{name: "unmanaged and failing is refused", matched: yes, found: failing,
			want: map[string]Action{"web": ActionRefuse}, reason: "was not installed by mms"},
		{name: "a file in the way is refused", matched: yes, found: Found{Path: "/m/web", Exists: true},
			want: map[string]Action{"web": ActionRefuse}, reason: "not a machine mms installed"},
		{name: "false matcher skips", matched: Matched{},
			want: map[string]Action{"web": ActionSkip}},
		{name: "false matcher removes a managed machine under purge", matched: Matched{}, managed: map[string]install.Managed{"web": webRec}, purge: true,
			want: map[string]Action{"web": ActionRemove}},
		{name: "false matcher keeps a managed machine without purge", matched: Matched{}, managed: map[string]install.Managed{"web": webRec},
			want: map[string]Action{"web": ActionSkip}},
		{name: "failed matcher refuses and never purges", matched: Matched{Err: errors.New("unknown name facts")}, managed: map[string]install.Managed{"web": webRec}, purge: true,
			want: map[string]Action{"web": ActionRefuse}, reason: "unknown name"},
		{name: "purge removes what the spec omits", matched: yes, found: Found{Path: "/m/web"}, managed: map[string]install.Managed{"db": {Name: "db"}}, purge: true,
			want: map[string]Action{"web": ActionInstall, "db": ActionRemove}},
		{name: "no purge keeps what the spec omits", matched: yes, found: Found{Path: "/m/web"}, managed: map[string]install.Managed{"db": {Name: "db"}},
			want: map[string]Action{"web": ActionInstall}},
		{name: "go-choria manager of a kept machine is retired", matched: yes, found: verified, managed: map[string]install.Managed{"web": webRec},
			mgr: &ManagerFound{Manager: manager}, want: map[string]Action{"web": ActionKeep, "mm_web": ActionRetire}},
		{name: "go-choria manager defers an install", matched: yes, found: Found{Path: "/m/web"},
			mgr: &ManagerFound{Manager: manager}, want: map[string]Action{"web": ActionDefer, "mm_web": ActionRetire}, reason: "waits for a later reconcile"},
		{name: "go-choria's older install is replaced", matched: yes, found: failing,
			mgr:  &ManagerFound{Manager: manager, Installed: &Found{Path: "/m/web", Exists: true, IsDir: true, Checked: true, Files: webFiles}},
			want: map[string]Action{"web": ActionReplace, "mm_web": ActionRetire}, reason: "go-choria installed archive eeeeeeeeeeee"},
		{name: "a machine verifying against neither is left with its manager", matched: yes, found: failing,
			mgr:  &ManagerFound{Manager: manager, Installed: &Found{Path: "/m/web", Exists: true, IsDir: true, Checked: true, Verify: errors.New("nope")}},
			want: map[string]Action{"web": ActionRefuse, "mm_web": ActionLeave}},
		{name: "a directory that is not go-choria's rendering is left", matched: yes, found: Found{Path: "/m/web"},
			mgr:  &ManagerFound{Err: fmt.Errorf("%w: mm_web holds notes.txt", ErrNotGoChoriaManager)},
			want: map[string]Action{"web": ActionInstall, "mm_web": ActionLeave}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := &spec.Spec{Entries: []spec.Entry{webEntry}}
			inv := Inventory{Managed: c.managed, Machines: map[string]Found{}, Managers: map[string]ManagerFound{}}
			if c.matched.OK {
				inv.Machines["web"] = c.found
			}
			if c.mgr != nil {
				inv.Managers["web"] = *c.mgr
			}
			p := Decide(s, []Matched{c.matched}, inv, c.purge)
			got := map[string]Action{}
			for i, st := range p.Steps {
				if i > 0 && p.Steps[i-1].Name > st.Name {
					t.Errorf("steps out of name order: %s before %s", p.Steps[i-1].Name, st.Name)
				}
				got[st.Name] = st.Action
			}
			if fmt.Sprint(got) != fmt.Sprint(c.want) {
				t.Fatalf("actions %v, want %v", got, c.want)
			}
			web := p.Steps[0]
			for _, st := range p.Steps {
				if st.Name == "web" {
					web = st
				}
			}
			if !strings.Contains(web.Reason, c.reason) {
				t.Errorf("reason %q does not say %q", web.Reason, c.reason)
			}
			if web.Action == ActionRefuse && web.Err == nil {
				t.Error("a refusal without its error")
			}
			if web.Action == ActionRefuse && c.matched.Err == nil && !errors.Is(web.Err, errs.ErrNotManaged) {
				t.Errorf("refusal %v is not ErrNotManaged", web.Err)
			}
			switch web.Action {
			case ActionKeep, ActionAdopt, ActionReplace:
				if len(web.Files) == 0 {
					t.Errorf("%s without the verification cache", web.Action)
				}
			}
			if web.Action == ActionReplace && web.Entry.Checksum != strings.ToLower(manager.Checksum) {
				t.Errorf("replace records checksum %s, want the manager's, lower-cased", web.Entry.Checksum)
			}
		})
	}
}

// TestFoundProblem: what mms status reports of a machine as "verifies now".
func TestFoundProblem(t *testing.T) {
	for _, c := range []struct {
		f    Found
		want string
	}{
		{verified, ""},
		{Found{Path: "/m/web"}, "missing"},
		{Found{Path: "/m/web", Exists: true}, "not a directory"},
		{Found{Path: "/m/web", Exists: true, IsDir: true}, "not verified"},
		{failing, "checksum mismatch"},
		{Found{Path: "/m/web", Exists: true, IsDir: true, Checked: true, Strays: sums.Strays{Extra: []string{"x"}}}, "holds what its archive does not: "},
	} {
		err := c.f.Problem()
		if (err == nil) != (c.want == "") || (err != nil && !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%+v: Problem() = %v, want %q", c.f, err, c.want)
		}
	}
}

package main

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/mms-io/mms/machines/rollout"
	"github.com/mms-io/mms/machines/spec"
)

var (
	featuresOnce   sync.Once
	featuresBinary string
	featuresErr    error
)

// featuresMMS builds, once for the whole run, an mms with -tags mms_test_features: it knows
// the feature "mms-test", which a plain build does not.
func featuresMMS(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds mms with -tags mms_test_features")
	}
	featuresOnce.Do(func() {
		featuresBinary = filepath.Join(binDir, "mms-test-features")
		out, err := exec.Command("go", "build", "-tags", "mms_test_features", "-o", featuresBinary, ".").CombinedOutput()
		if err != nil {
			featuresErr = fmt.Errorf("go build -tags mms_test_features: %v\n%s", err, out)
		}
	})
	if featuresErr != nil {
		t.Fatal(featuresErr)
	}
	return featuresBinary
}

const (
	// canaryPolicy is the default policy of the test machines file.
	canaryPolicy  = `{"waves": ["1%", "10%", "50%", "100%"], "bake": "5m", "healthy_states": ["RUN"], "failed_states": ["FAILED"], "max_unhealthy": "5%"}`
	canarySummary = "waves 1%,10%,50%,100%; bake 5m; healthy RUN within 5m; failed FAILED; max unhealthy 5%; on halt revert"
	// quickPolicy is db's own.
	quickPolicy  = `{"waves": ["50%", "100%"], "bake": "0s", "health_command": ["./check", "--quick"], "on_halt": "hold"}`
	quickSummary = "waves 50%,100%; bake 0s; healthy within 5m; health command ./check --quick, timeout 30s; max unhealthy 0; on halt hold"
)

// rolloutFile is a machines file in the object form: web takes the default, db has its own
// policy, plain says null (the default too).
var rolloutFile = `{
  "rollout": ` + canaryPolicy + `,
  "machines": [
    {"name": "web", "source": "https://archives.example.net/web.tgz", "checksum": "` + testSumA + `", "verify_checksum": "` + testSumB + `", "match": "identity('^web')"},
    {"name": "db", "source": "https://archives.example.net/db.tgz", "checksum": "` + testSumB + `", "verify_checksum": "` + testSumA + `", "rollout": ` + quickPolicy + `},
    {"name": "plain", "source": "https://archives.example.net/plain.tgz", "checksum": "` + testSumA + `", "verify_checksum": "` + testSumB + `", "rollout": null}
  ]
}
`

// expectedWave is the wave, from 1, a node computes for itself: what mms match must show.
func expectedWave(t *testing.T, policy, identity, entry, checksum string) int {
	t.Helper()
	p, err := rollout.ParsePolicy([]byte(policy))
	if err != nil {
		t.Fatal(err)
	}
	return p.Waves.WaveOf(identity, entry, checksum) + 1
}

func TestPackRolloutPolicy(t *testing.T) {
	bin := mmsPath(t)
	dir := t.TempDir()
	pub, priv := keyPair(t, dir)
	writeFile(t, dir, "machines.json", rolloutFile)
	newer := func(args ...string) result { return runCmd(t, bin, dir, nil, nil, args...) }

	r := newer("pack", "machines.json", priv)
	if r.code != 0 {
		t.Fatalf("pack: exit %d %s", r.code, r.stderr)
	}
	writeFile(t, dir, "spec.json", r.stdout)
	t.Run("the payload requires rollout and holds the default as written", func(t *testing.T) {
		env, err := spec.DecodeEnvelope([]byte(r.stdout))
		if err != nil {
			t.Fatal(err)
		}
		want := `"requires":["rollout"],"rollout":{"waves":["1%","10%","50%","100%"],"bake":"5m","healthy_states":["RUN"],"failed_states":["FAILED"],"max_unhealthy":"5%"},"machines":[`
		if !strings.Contains(string(env.Payload), want) {
			t.Fatalf("payload %s", env.Payload)
		}
		if !strings.Contains(r.stderr, `note: the specification requires "rollout", for its rollout policy`) {
			t.Errorf("pack does not say it added the requirement: %q", r.stderr)
		}
	})
	t.Run("pack --require rollout with a policy requires it once, without the note", func(t *testing.T) {
		d := newer("pack", "machines.json", priv, "--require", "rollout")
		env, err := spec.DecodeEnvelope([]byte(d.stdout))
		if d.code != 0 || err != nil || !strings.Contains(string(env.Payload), `"requires":["rollout"],"rollout":`) || strings.Contains(d.stderr, "note:") {
			t.Fatalf("pack: %+v", d)
		}
	})
	t.Run("packs an array whose entries have policies", func(t *testing.T) {
		arr := `[{"name": "db", "source": "https://archives.example.net/db.tgz", "checksum": "` + testSumB + `", "verify_checksum": "` + testSumA + `", "rollout": ` + quickPolicy + `}]`
		writeFile(t, dir, "array.json", arr)
		d := newer("pack", "array.json", priv)
		env, err := spec.DecodeEnvelope([]byte(d.stdout))
		if d.code != 0 || err != nil || !strings.Contains(string(env.Payload), `"requires":["rollout"],"machines":[`) {
			t.Fatalf("pack: %+v", d)
		}
	})
	for _, c := range []struct {
		name, file string
		args       []string
		says       string
	}{
		{"refuses a policy in a v1 spec", rolloutFile, []string{"--format", "v1"}, "a v1 payload has no place for (go-choria's nodes would ignore it and install at once): pack format 2"},
		{"refuses an unknown field of the object", `{"rollout": ` + canaryPolicy + `, "entries": []}`, nil, `machines file: field "entries" is not known`},
		{"refuses a policy without waves, naming the field", `{"rollout": {"bake": "5m"}, "machines": []}`, nil, "rollout: waves: required"},
		{"refuses a bad entry policy, naming the entry and the field", `[{"name": "db", "source": "https://a/db.tgz", "checksum": "` + testSumB + `", "verify_checksum": "` + testSumA + `", "rollout": {"waves": ["100%"], "max_unhealthy": 3}}]`, nil,
			`entry "db": rollout: max_unhealthy: must be a string`},
		{"refuses a typo in a policy", `{"rollout": {"waves": ["100%"], "healthy_state": ["RUN"]}, "machines": []}`, nil, `rollout: unknown field "healthy_state"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			writeFile(t, dir, "bad.json", c.file)
			d := newer(append([]string{"pack", "bad.json", priv}, c.args...)...)
			if d.code != 1 || d.stdout != "" || !strings.Contains(d.stderr, c.says) {
				t.Fatalf("exit %d, stdout %q, stderr %q; want it to say %q", d.code, d.stdout, d.stderr, c.says)
			}
		})
	}
	t.Run("the help shows the object form", func(t *testing.T) {
		h := mms(t, dir, "pack", "--help")
		if !strings.Contains(h.stdout+h.stderr, `{"rollout": {"waves": ["1%", "10%", "50%", "100%"], "bake": "5m",`) || !strings.Contains(h.stdout+h.stderr, "healthy_deadline") {
			t.Fatalf("help: %s%s", h.stdout, h.stderr)
		}
	})

	t.Run("verify shows the default and each entry's policy", func(t *testing.T) {
		v := newer("verify", "spec.json", pub)
		if v.code != 0 {
			t.Fatalf("verify: %+v", v)
		}
		for _, line := range []string{
			`   Requires: rollout`,
			`    Rollout: ` + regexp.QuoteMeta(canarySummary) + ` \(the default\)`,
			`          rollout: ` + regexp.QuoteMeta(canarySummary) + ` \(the default\)`,
			`          rollout: ` + regexp.QuoteMeta(quickSummary) + ` \(its own\)`,
		} {
			if !hasLine(v.stdout, line) {
				t.Errorf("verify prints no line %s:\n%s", line, v.stdout)
			}
		}
		if n := strings.Count(v.stdout, "          rollout: "+canarySummary+" (the default)"); n != 2 {
			t.Errorf("%d entries take the default, want web and plain:\n%s", n, v.stdout)
		}
	})
	t.Run("verify --json shows them", func(t *testing.T) {
		j := newer("verify", "spec.json", pub, "--json")
		var doc specDoc
		decodeStrict(t, j.stdout, &doc)
		if j.code != 0 || doc.Rollout == nil || len(doc.Entries) != 3 {
			t.Fatalf("verify --json: %+v\n%s", doc, j.stdout)
		}
		want := rolloutDoc{Waves: []string{"1%", "10%", "50%", "100%"}, Bake: "5m", HealthyStates: []string{"RUN"}, FailedStates: []string{"FAILED"},
			HealthyDeadline: "5m", HealthCommand: []string{}, MaxUnhealthy: "5%", OnHalt: "revert", Summary: canarySummary}
		if got := *doc.Rollout; fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("default\n got %+v\nwant %+v", got, want)
		}
		want.From = "default"
		for _, i := range []int{0, 2} {
			if got := doc.Entries[i].Rollout; got == nil || fmt.Sprint(*got) != fmt.Sprint(want) {
				t.Errorf("%s: %+v", doc.Entries[i].Name, got)
			}
		}
		own := rolloutDoc{Waves: []string{"50%", "100%"}, Bake: "0s", HealthyStates: []string{}, FailedStates: []string{}, HealthyDeadline: "5m",
			HealthCommand: []string{"./check", "--quick"}, HealthTimeout: "30s", MaxUnhealthy: "0", OnHalt: "hold", Summary: quickSummary, From: "entry"}
		if got := doc.Entries[1].Rollout; got == nil || fmt.Sprint(*got) != fmt.Sprint(own) {
			t.Errorf("db\n got %+v\nwant %+v", got, own)
		}
		if !strings.Contains(j.stdout, `"health_command": []`) || !strings.Contains(j.stdout, `"from": "entry"`) {
			t.Errorf("output:\n%s", j.stdout)
		}
	})
	t.Run("verify shows no policy for a spec without one", func(t *testing.T) {
		writeFile(t, dir, "plain-machines.json", machinesFile)
		p := newer("pack", "plain-machines.json", priv)
		writeFile(t, dir, "plain.json", p.stdout)
		v := newer("verify", "plain.json", pub)
		j := newer("verify", "plain.json", pub, "--json")
		if p.code != 0 || v.code != 0 || strings.Contains(v.stdout, "ollout") || strings.Contains(j.stdout, "rollout") || strings.Contains(p.stderr, "note:") {
			t.Fatalf("pack %+v\nverify %+v\n--json %s", p, v, j.stdout)
		}
	})
}

func TestMatchShowsWaves(t *testing.T) {
	bin := mmsPath(t)
	dir := t.TempDir()
	_, priv := keyPair(t, dir)
	writeFile(t, dir, "machines.json", rolloutFile)
	newer := func(args ...string) result { return runCmd(t, bin, dir, nil, nil, args...) }
	p := newer("pack", "machines.json", priv)
	if p.code != 0 {
		t.Fatalf("pack: %+v", p)
	}
	writeFile(t, dir, "spec.json", p.stdout)

	const node = "web7.example.net"
	web := expectedWave(t, canaryPolicy, node, "web", testSumA)
	db := expectedWave(t, quickPolicy, node, "db", testSumB)
	plain := expectedWave(t, canaryPolicy, node, "plain", testSumA)
	share := func(policy string, k int) string {
		p, _ := rollout.ParsePolicy([]byte(policy))
		return p.Shares[k-1]
	}
	for _, file := range []string{"machines.json", "spec.json"} {
		t.Run("shows the node's wave of each matching entry with a policy, from "+file, func(t *testing.T) {
			r := newer("match", file, "--identity", node)
			if r.code != 0 {
				t.Fatalf("match: %+v", r)
			}
			for _, line := range []string{
				`ENTRY\s+RESULT\s+WAVE\s+MATCHER`,
				fmt.Sprintf(`web\s+matched\s+wave %d of 4 \(%s\)\s+identity\('\^web'\)`, web, regexp.QuoteMeta(share(canaryPolicy, web))),
				fmt.Sprintf(`db\s+matched\s+wave %d of 2 \(%s\)\s+\(every node\)`, db, regexp.QuoteMeta(share(quickPolicy, db))),
				fmt.Sprintf(`plain\s+matched\s+wave %d of 4 \(%s\)\s+\(every node\)`, plain, regexp.QuoteMeta(share(canaryPolicy, plain))),
			} {
				if !hasLine(r.stdout, line) {
					t.Errorf("no line %s:\n%s", line, r.stdout)
				}
			}
		})
	}
	t.Run("--json gives the wave, from 1, and the count", func(t *testing.T) {
		r := newer("match", "spec.json", "--identity", node, "--json")
		var doc matchDoc
		decodeStrict(t, r.stdout, &doc)
		got := map[string]string{}
		for _, e := range doc.Entries {
			got[e.Name] = fmt.Sprintf("%d/%d %s", e.Wave, e.Waves, e.WaveShare)
		}
		want := map[string]string{
			"web":   fmt.Sprintf("%d/4 %s", web, share(canaryPolicy, web)),
			"db":    fmt.Sprintf("%d/2 %s", db, share(quickPolicy, db)),
			"plain": fmt.Sprintf("%d/4 %s", plain, share(canaryPolicy, plain)),
		}
		if r.code != 0 || fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("waves %v, want %v\n%s", got, want, r.stdout)
		}
	})
	t.Run("an entry the node does not take has no wave", func(t *testing.T) {
		r := newer("match", "spec.json", "--identity", "db1")
		if !hasLine(r.stdout, `web\s+not matched\s+-\s+identity\('\^web'\)`) {
			t.Errorf("text:\n%s", r.stdout)
		}
		j := newer("match", "spec.json", "--identity", "db1", "--json")
		var doc matchDoc
		decodeStrict(t, j.stdout, &doc)
		if doc.Entries[0].Name != "web" || doc.Entries[0].Wave != 0 || strings.Count(j.stdout, `"wave":`) != 2 {
			t.Fatalf("json:\n%s", j.stdout)
		}
	})
	t.Run("the nodes of a fleet spread over the waves, each the same every time", func(t *testing.T) {
		seen := map[int]bool{}
		for i := range 40 {
			id := fmt.Sprintf("node-%d", i)
			r := newer("match", "spec.json", "--identity", id, "--json")
			var doc matchDoc
			decodeStrict(t, r.stdout, &doc)
			if doc.Entries[1].Wave != expectedWave(t, quickPolicy, id, "db", testSumB) {
				t.Fatalf("%s: wave %d", id, doc.Entries[1].Wave)
			}
			seen[doc.Entries[1].Wave] = true
		}
		if !seen[1] || !seen[2] {
			t.Fatalf("40 nodes, all in waves %v of 50%%/100%%", seen)
		}
	})
	t.Run("a spec without a policy shows no wave column", func(t *testing.T) {
		writeFile(t, dir, "plain.json", machinesFile)
		r := newer("match", "plain.json", "--identity", node)
		j := newer("match", "plain.json", "--identity", node, "--json")
		if r.code != 0 || strings.Contains(r.stdout, "WAVE") || strings.Contains(j.stdout, "wave") {
			t.Fatalf("match: %+v\n%s", r, j.stdout)
		}
	})
	t.Run("a plain mms matches the object form without a policy", func(t *testing.T) {
		obj := `{"machines": ` + machinesFile + `}`
		writeFile(t, dir, "object.json", obj)
		r := mms(t, dir, "match", "object.json", "--identity", "web1")
		if r.code != 0 || !hasLine(r.stdout, `web\s+matched\s+identity\('\^web'\)`) {
			t.Fatalf("plain match: %+v", r)
		}
	})
}

func TestApplyDryRunShowsWaves(t *testing.T) {
	bin := mmsPath(t)
	work, dir := t.TempDir(), t.TempDir()
	pub, priv := keyPair(t, work)
	writeFile(t, work, "machines.json", rolloutFile)
	newer := func(args ...string) result { return runCmd(t, bin, work, nil, nil, args...) }
	p := newer("pack", "machines.json", priv)
	if p.code != 0 {
		t.Fatalf("pack: %+v", p)
	}
	specFile := writeFile(t, work, "spec.json", p.stdout)
	before := dirSnapshot(t, dir)

	const node = "web3.example.net"
	web := expectedWave(t, canaryPolicy, node, "web", testSumA)
	db := expectedWave(t, quickPolicy, node, "db", testSumB)
	// What mms apply, which has no fleet to stage a change with, does with such an entry is
	// the node loop's business; the plan shows the node's wave whatever the action.
	t.Run("the plan gives the node's wave of each entry that matches", func(t *testing.T) {
		r := newer("apply", specFile, "--dir", dir, "--public-key", pub, "--identity", node, "--dry-run")
		if !strings.Contains(r.stdout, "DRY RUN") {
			t.Fatalf("apply --dry-run: %+v", r)
		}
		for _, line := range []string{
			fmt.Sprintf(`\S+\s+web\s+.*\s+wave %d of 4 \(\S+%%\)`, web),
			fmt.Sprintf(`\S+\s+db\s+.*\s+wave %d of 2 \(\S+%%\)`, db),
		} {
			if !hasLine(r.stdout, line) {
				t.Errorf("no line %s:\n%s", line, r.stdout)
			}
		}
		sameTree(t, "apply --dry-run", dirSnapshot(t, dir), before)
	})
	t.Run("--json gives them, and none for an entry the node skips", func(t *testing.T) {
		r := newer("apply", specFile, "--dir", dir, "--public-key", pub, "--identity", "db4", "--dry-run", "--json")
		var doc applyDoc
		decodeStrict(t, r.stdout, &doc)
		got := map[string]string{}
		for _, res := range doc.Results {
			got[res.Name] = fmt.Sprintf("%d/%d", res.Wave, res.Waves)
			if res.Name == "web" && res.Action != "skip" {
				t.Errorf("web: %+v", res)
			}
		}
		want := map[string]string{
			"web":   "0/0",
			"db":    fmt.Sprintf("%d/2", expectedWave(t, quickPolicy, "db4", "db", testSumB)),
			"plain": fmt.Sprintf("%d/4", expectedWave(t, canaryPolicy, "db4", "plain", testSumA)),
		}
		if !doc.DryRun || doc.Refused != "" || fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("results %v, want %v\n%s", got, want, r.stdout)
		}
		sameTree(t, "apply --dry-run --json", dirSnapshot(t, dir), before)
	})
	t.Run("a dry run of a spec without a policy shows no wave", func(t *testing.T) {
		writeFile(t, work, "plain-machines.json", machinesFile)
		p := newer("pack", "plain-machines.json", priv)
		plain := writeFile(t, work, "plain.json", p.stdout)
		r := newer("apply", plain, "--dir", dir, "--public-key", pub, "--identity", node, "--dry-run")
		j := newer("apply", plain, "--dir", dir, "--public-key", pub, "--identity", node, "--dry-run", "--json")
		if r.code != 0 || strings.Contains(r.stdout, "wave") || strings.Contains(j.stdout, "wave") {
			t.Fatalf("apply --dry-run: %+v\n%s", r, j.stdout)
		}
	})
}

// TestRolloutDocsOfHandMadeSpecs checks the documents of mms verify and mms match in process,
// for what a plain build cannot open: an entry that takes the default is told from one with a
// policy of its own by pointer, as spec.ParsePayload makes them.
func TestRolloutDocsOfHandMadeSpecs(t *testing.T) {
	def, err := rollout.ParsePolicy([]byte(canaryPolicy))
	if err != nil {
		t.Fatal(err)
	}
	own, err := rollout.ParsePolicy([]byte(canaryPolicy)) // equal, yet its own
	if err != nil {
		t.Fatal(err)
	}
	s := &spec.Spec{Format: 2, Rollout: &def, SignedBy: -1, Entries: []spec.Entry{
		{Name: "a", Checksum: testSumA, Rollout: &def}, {Name: "b", Checksum: testSumA, Rollout: &own}, {Name: "c", Checksum: testSumA}}}
	d := newSpecDoc("verify", "x", s, 0, s.Issued)
	if d.Rollout == nil || d.Rollout.From != "" || d.Entries[0].Rollout.From != "default" || d.Entries[1].Rollout.From != "entry" || d.Entries[2].Rollout != nil {
		b, _ := json.Marshal(d)
		t.Fatalf("doc %s", b)
	}
	if w := waveOf("n1", s.Entries[2]); w.Wave != 0 || w.String() != "-" {
		t.Fatalf("an entry without a policy is in %+v", w)
	}
	if w := waveOf("n1", s.Entries[0]); w.Wave != def.Waves.WaveOf("n1", "a", testSumA)+1 || w.Waves != 4 || !strings.HasPrefix(w.String(), fmt.Sprintf("wave %d of 4 (", w.Wave)) {
		t.Fatalf("wave %+v", w)
	}
}

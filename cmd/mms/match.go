package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/choria-io/fisk"
	"github.com/tidwall/gjson"

	"github.com/mms-io/mms/machines"
	"github.com/mms-io/mms/machines/match"
	"github.com/mms-io/mms/machines/spec"
	"github.com/mms-io/mms/nodeloop"
)

func init() { registerCommand(configureMatch) }

type matchCommand struct {
	file     string
	identity string
	facts    string
	json     bool
	limits   settingFlags
}

func configureMatch(app *fisk.Application) {
	c := &matchCommand{}
	cmd := app.Command("match", "Evaluates every entry's matcher against this node, or the identity and facts given, within the node's matcher limits, and shows the node's wave of each matching entry with a rollout policy").Action(action(c.run))
	cmd.Arg("file", "A machines file (as mms pack reads it) or a specification envelope (- for standard input)").Required().StringVar(&c.file)
	cmd.Flag("identity", "The node identity to match (default: this host's name)").StringVar(&c.identity)
	cmd.Flag("facts", "A JSON file of the node's facts, read by get_fact()").ExistingFileVar(&c.facts)
	c.limits.register(cmd, isMatcherSetting)
	jsonFlag(cmd, &c.json)
}

// matcherLimits are the settings that bound one matcher: mms match takes them as flags, so
// that it judges as a node with those limits does.
var matcherLimits = []string{match.LimitLength, match.LimitNodes, match.LimitSteps, match.LimitBytes, match.LimitTime}

func isMatcherSetting(st nodeloop.Setting) bool { return slices.Contains(matcherLimits, st.Name) }

// matchDoc is mms match's --json output (schema "mms.match.v1").
type matchDoc struct {
	Schema  string          `json:"schema"`
	Node    nodeDoc         `json:"node"`
	Entries []matchEntryDoc `json:"entries"`
	// Failed counts the matchers that could not be evaluated (exit code 1).
	Failed int `json:"failed"`
}

// matchEntryDoc is one entry's result in a matchDoc.
type matchEntryDoc struct {
	Name    string `json:"name"`
	Matcher string `json:"matcher"`
	Matched bool   `json:"matched"`
	Error   string `json:"error,omitempty"`
	// Wave is the node's wave (from 1) of the entry's change, of Waves, for an entry with a
	// rollout policy that matched; absent otherwise. WaveShare is the share of the nodes that
	// have taken the change once that wave has (cumulative, as the policy writes it).
	Wave      int    `json:"wave,omitempty"`
	Waves     int    `json:"waves,omitempty"`
	WaveShare string `json:"wave_share,omitempty"`
}

// waveDoc is the node's wave of one entry's change, as matchEntryDoc and applyResultDoc
// carry it.
type waveDoc struct {
	Wave, Waves int
	Share       string
}

// waveOf is the wave node identity is in for the change that brings e to its checksum, as
// every node decides it for itself; empty when e has no rollout policy.
func waveOf(identity string, e spec.Entry) waveDoc {
	if e.Rollout == nil || len(e.Rollout.Waves) == 0 {
		return waveDoc{}
	}
	k := e.Rollout.Waves.WaveOf(identity, e.Name, e.Checksum)
	return waveDoc{Wave: k + 1, Waves: len(e.Rollout.Waves), Share: shareOf(e.Rollout, k)}
}

// String says it as "wave 2 of 4 (10%)", or "-" for none.
func (d waveDoc) String() string {
	if d.Wave == 0 {
		return "-"
	}
	return fmt.Sprintf("wave %d of %d (%s)", d.Wave, d.Waves, d.Share)
}

func (c *matchCommand) run() error {
	if err := c.limits.parseSettings(); err != nil {
		return err
	}
	data, err := readInput(c.file)
	if err != nil {
		return err
	}
	s, err := decodeAnySpec(data)
	if err != nil {
		return fmt.Errorf("match %s: %w", c.file, err)
	}
	node, err := nodeFromFlags(c.identity, c.facts)
	if err != nil {
		return err
	}
	doc := matchDoc{Schema: "mms.match.v1", Node: describeNode(node, c.identity, c.facts), Entries: []matchEntryDoc{}}
	for i, m := range machines.MatchAll(s, node, c.limits.settings.Matcher) {
		e := s.Entries[i]
		ed := matchEntryDoc{Name: e.Name, Matcher: e.Match, Matched: m.OK}
		if m.Err != nil {
			ed.Error = m.Err.Error()
			doc.Failed++
		} else if m.OK {
			w := waveOf(node.Identity, e)
			ed.Wave, ed.Waves, ed.WaveShare = w.Wave, w.Waves, w.Share
		}
		doc.Entries = append(doc.Entries, ed)
	}
	if c.json {
		err = writeJSON(os.Stdout, doc)
	} else {
		printMatch(os.Stdout, doc)
	}
	if err != nil {
		return err
	}
	if doc.Failed > 0 {
		return fmt.Errorf("%d of %d matchers failed on node %q", doc.Failed, len(s.Entries), node.Identity)
	}
	return nil
}

// printMatch prints doc as text: the node, then a line per entry, with the node's wave when
// an entry it takes has a rollout policy.
func printMatch(w io.Writer, doc matchDoc) {
	fmt.Fprintln(w, doc.Node)
	waves := slices.ContainsFunc(doc.Entries, func(e matchEntryDoc) bool { return e.Wave > 0 })
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	if waves {
		fmt.Fprintf(tw, "ENTRY\tRESULT\tWAVE\tMATCHER\n")
	} else {
		fmt.Fprintf(tw, "ENTRY\tRESULT\tMATCHER\n")
	}
	for _, e := range doc.Entries {
		result := "matched"
		switch {
		case e.Error != "":
			result = "error: " + e.Error
		case !e.Matched:
			result = "not matched"
		}
		expr := e.Matcher
		if expr == "" {
			expr = "(every node)"
		}
		if waves {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", e.Name, result, waveDoc{e.Wave, e.Waves, e.WaveShare}, expr)
		} else {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", e.Name, result, expr)
		}
	}
	tw.Flush()
}

// nodeDoc says which node matchers were evaluated for: mms match and mms apply --dry-run
// print it, so that an operator sees what the node looked like.
type nodeDoc struct {
	Identity string `json:"identity"`
	// IdentityFrom is "--identity" or "hostname".
	IdentityFrom string `json:"identity_from"`
	// FactsFile is the facts file read, absent when none; FactsBytes its size.
	FactsFile  string `json:"facts_file,omitempty"`
	FactsBytes int    `json:"facts_bytes"`
}

// describeNode describes node, made from the --identity and --facts flags given.
func describeNode(node match.Node, identityFlag, factsFile string) nodeDoc {
	d := nodeDoc{Identity: node.Identity, IdentityFrom: "--identity", FactsFile: factsFile, FactsBytes: len(node.Facts)}
	if identityFlag == "" {
		d.IdentityFrom = "hostname"
	}
	return d
}

// String says it in one line.
func (d nodeDoc) String() string {
	from := "given by --identity"
	if d.IdentityFrom == "hostname" {
		from = "this host's name; --identity sets another"
	}
	facts := "no facts (--facts gives them)"
	if d.FactsFile != "" {
		facts = fmt.Sprintf("facts from %s (%d bytes)", d.FactsFile, d.FactsBytes)
	}
	return fmt.Sprintf("Node %q (%s), %s", d.Identity, from, facts)
}

// decodeAnySpec reads either a machines file (an array of entries, or the object holding a
// default rollout policy and the entries), as the v2 specification mms pack would make of it,
// or an envelope, without checking a signature: for previewing, never for acting.
func decodeAnySpec(data []byte) (*spec.Spec, error) {
	if isMachinesFile(data) {
		now := time.Now()
		_, s, err := spec.Pack(data, spec.PackOptions{Format: 2, Version: spec.VersionAt(now), Issued: now, AllowUnknown: true})
		return s, err
	}
	return spec.Open(data, spec.Trust{InsecureAllowUnsigned: true})
}

// isMachinesFile tells a machines file from an envelope: an array, or an object whose
// machines is an array of entries (an envelope's is base64 text).
func isMachinesFile(data []byte) bool {
	t := bytes.TrimSpace(data)
	if len(t) == 0 {
		return false
	}
	return t[0] == '[' || (t[0] == '{' && gjson.GetBytes(t, "machines").IsArray())
}

// nodeFromFlags describes the node to match: the identity given or this host's name, and the
// facts file given, if any.
func nodeFromFlags(identity, factsFile string) (match.Node, error) {
	if identity == "" {
		h, err := os.Hostname()
		if err != nil {
			return match.Node{}, fmt.Errorf("find this node's identity: %w (give --identity)", err)
		}
		identity = h
	}
	var facts []byte
	if factsFile != "" {
		var err error
		if facts, err = match.LoadFacts(factsFile); err != nil {
			return match.Node{}, err
		}
	}
	return match.NewNode(identity, facts, "")
}

package main

import (
	"bytes"
	"fmt"
	"os"
	"text/tabwriter"

	"github.com/choria-io/fisk"
	"github.com/mms-io/mms/machines/match"
	"github.com/mms-io/mms/machines/spec"
)

func init() { registerCommand(configureMatch) }

type matchCommand struct {
	file     string
	identity string
	facts    string
}

func configureMatch(app *fisk.Application) {
	c := &matchCommand{}
	cmd := app.Command("match", "Evaluates every entry's matcher against this node, or the identity and facts given").Action(action(c.run))
	cmd.Arg("file", "A machines file (JSON array of entries) or a specification envelope (- for standard input)").Required().StringVar(&c.file)
	cmd.Flag("identity", "The node identity to match (default: this host's name)").StringVar(&c.identity)
	cmd.Flag("facts", "A JSON file of the node's facts, read by get_fact()").ExistingFileVar(&c.facts)
}

func (c *matchCommand) run() error {
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
	failed := 0
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "ENTRY\tRESULT\tMATCHER\n")
	for _, e := range s.Entries {
		result := "matched"
		m, err := match.Compile(e.Match)
		var ok bool
		if err == nil {
			ok, err = m.Match(node)
		}
		switch {
		case err != nil:
			result = "error: " + err.Error()
			failed++
		case !ok:
			result = "not matched"
		}
		expr := e.Match
		if expr == "" {
			expr = "(every node)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", e.Name, result, expr)
	}
	tw.Flush()
	if failed > 0 {
		return fmt.Errorf("%d of %d matchers failed on node %q", failed, len(s.Entries), node.Identity)
	}
	return nil
}

// decodeAnySpec reads either a machines file (an array of entries) or an envelope, without
// checking a signature: for previewing, never for acting.
func decodeAnySpec(data []byte) (*spec.Spec, error) {
	if t := bytes.TrimSpace(data); len(t) > 0 && t[0] == '[' {
		return spec.ParsePayload(data)
	}
	return spec.Open(data, spec.Trust{InsecureAllowUnsigned: true})
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

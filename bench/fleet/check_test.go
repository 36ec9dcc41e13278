package main

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/mms-io/mms/machines/fetch"
	"github.com/mms-io/mms/machines/spec"
)

func TestCheck(t *testing.T) {
	base := spec.Entry{Source: "http://127.0.0.1:1/base-1.tgz"}
	t.Run("passes one request per node that needed the change", func(t *testing.T) {
		c := counts{Total: 2, ByPath: map[string]int{"/web-1.tgz": 2}, ByNode: map[string]map[string]int{"0": {"/web-1.tgz": 1}, "1": {"/web-1.tgz": 1}}}
		if p := check(options{Scenario: scenarioRollout}, &report{Targets: 2}, c, base); len(p) != 0 {
			t.Fatalf("problems %v", p)
		}
	})
	for _, tc := range []struct {
		name, scenario, want string
		targets              int
		c                    counts
	}{
		{"catches a node that downloads an archive twice", scenarioRollout, "requested /web-1.tgz 2 times", 1,
			counts{Total: 2, ByPath: map[string]int{"/web-1.tgz": 2}, ByNode: map[string]map[string]int{"0": {"/web-1.tgz": 2}}}},
		{"catches a request from a node whose matcher is false", scenarioTargeted, "node 3, whose matcher is false", 1,
			counts{Total: 2, ByPath: map[string]int{"/web-1.tgz": 2}, ByNode: map[string]map[string]int{"0": {"/web-1.tgz": 1}, "3": {"/web-1.tgz": 1}}}},
		{"catches a download of the unchanged archive", scenarioUpdate, "unchanged archive /base-1.tgz", 1,
			counts{Total: 2, ByPath: map[string]int{"/web-2.tgz": 1, "/base-1.tgz": 1}, ByNode: map[string]map[string]int{"0": {"/web-2.tgz": 1, "/base-1.tgz": 1}}}},
		{"catches any request in a purge", scenarioPurge, "1 requests, want 0", 1,
			counts{Total: 1, ByPath: map[string]int{"/web-1.tgz": 1}, ByNode: map[string]map[string]int{"0": {"/web-1.tgz": 1}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := check(options{Scenario: tc.scenario}, &report{Targets: tc.targets}, tc.c, base)
			if !strings.Contains(strings.Join(p, "\n"), tc.want) {
				t.Fatalf("problems %v, want one saying %q", p, tc.want)
			}
		})
	}
}

// attempts is an obj:// source that says each Fetch took n attempts.
type attempts int

func (n attempts) Fetch(context.Context, fetch.Source, string, io.Writer) (fetch.Result, error) {
	return fetch.Result{Attempts: int(n)}, nil
}

func TestCountingFetcher(t *testing.T) {
	t.Run("counts every attempt of a read by node and by the object's path, as HTTP requests", func(t *testing.T) {
		tl := newTally()
		f := countingFetcher{inner: attempts(3), node: "7", t: tl}
		if _, err := f.Fetch(context.Background(), fetch.Source{URL: "obj://ARCHIVES/web-1.tgz"}, "", io.Discard); err != nil {
			t.Fatal(err)
		}
		c := tl.snapshot()
		if c.Total != 3 || c.ByNode["7"]["/web-1.tgz"] != 3 || c.Peak != 1 {
			t.Fatalf("counts %+v", c)
		}
		p := check(options{Scenario: scenarioRollout, Source: sourceObj}, &report{Targets: 1}, c, spec.Entry{Source: "obj://ARCHIVES/base-1.tgz"})
		if !strings.Contains(strings.Join(p, "\n"), "node 7 requested /web-1.tgz 3 times") {
			t.Fatalf("problems %v", p)
		}
	})
}

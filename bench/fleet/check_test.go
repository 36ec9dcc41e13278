package main

import (
	"strings"
	"testing"

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

package main

import (
	"fmt"
	"net/url"
	"sort"

	"github.com/mms-io/mms/machines/spec"
)

// check compares what the archive server saw with the aims: no node downloads an archive
// twice, nodes whose matcher is false make no request, an unchanged archive is not fetched
// again, and every node that needed the change fetched it exactly once.
func check(o options, rep *report, c counts, unchanged spec.Entry) []string {
	var problems []string
	var nodes []string
	for n := range c.ByNode {
		nodes = append(nodes, n)
	}
	sort.Strings(nodes)
	for _, n := range nodes {
		for path, k := range c.ByNode[n] {
			if k > 1 {
				problems = append(problems, fmt.Sprintf("node %s requested %s %d times", n, path, k))
			}
		}
		var i int
		if _, err := fmt.Sscan(n, &i); err == nil && o.Scenario == scenarioTargeted && !targeted(i) {
			problems = append(problems, fmt.Sprintf("node %s, whose matcher is false, made %d requests", n, len(c.ByNode[n])))
		}
	}
	if u, err := url.Parse(unchanged.Source); err == nil && c.ByPath[u.Path] > 0 {
		problems = append(problems, fmt.Sprintf("the unchanged archive %s was requested %d times", u.Path, c.ByPath[u.Path]))
	}
	want := int64(rep.Targets)
	if o.Scenario == scenarioPurge {
		want = 0
	}
	if c.Total != want {
		problems = append(problems, fmt.Sprintf("%d requests, want %d (one per node that needed the change)", c.Total, want))
	}
	if len(problems) > 10 {
		problems = append(problems[:10], fmt.Sprintf("… and %d more", len(problems)-10))
	}
	return problems
}

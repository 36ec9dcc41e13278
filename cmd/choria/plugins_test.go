package main

import (
	"github.com/ghodss/yaml"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

func TestMMSPlugins(t *testing.T) {
	t.Run("registers the plugins user_plugins.yaml lists, under the same names", func(t *testing.T) {
		data, err := os.ReadFile(filepath.Join("..", "..", "user_plugins.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		listed := map[string]string{}
		if err := yaml.Unmarshal(data, &listed); err != nil {
			t.Fatalf("parse user_plugins.yaml: %v", err)
		}
		var want, got []string
		for name := range listed {
			want = append(want, name)
		}
		for _, p := range mmsPlugins {
			got = append(got, p.Name)
		}
		sort.Strings(want)
		sort.Strings(got)
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Fatalf("registered %v, user_plugins.yaml lists %v", got, want)
		}
		for name, path := range listed {
			if !strings.HasPrefix(path, "github.com/mms-io/mms/") {
				t.Errorf("%s: %s is not an mms package", name, path)
			}
		}
	})

}

package watchers

import (
	"strings"
	"testing"
	"time"

	"github.com/mms-io/mms/machines"
)

func TestSplayProperty(t *testing.T) {
	t.Run("defaults to the node loop's splay", func(t *testing.T) {
		s, err := ParseProperties(map[string]any{"data_item": "spec"}, "/etc/choria/machines/m")
		if err != nil || s.Node.Splay != machines.DefaultSplay {
			t.Fatalf("splay %v, %v", s, err)
		}
	})
	t.Run("takes a duration", func(t *testing.T) {
		s, err := ParseProperties(map[string]any{"data_item": "spec", "splay": "10s"}, "/etc/choria/machines/m")
		if err != nil || s.Node.Splay != 10*time.Second {
			t.Fatalf("splay %v, %v", s, err)
		}
	})
	for _, bad := range []string{"-1s", "2h"} {
		t.Run("refuses a splay of "+bad, func(t *testing.T) {
			_, err := ParseProperties(map[string]any{"data_item": "spec", "splay": bad}, "/etc/choria/machines/m")
			if err == nil || !strings.Contains(err.Error(), "splay") {
				t.Fatalf("want an error naming splay, got %v", err)
			}
		})
	}
}

package watchers

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mms-io/mms/nodeloop"
)

const (
	// keyA and keyB are public keys ed25519.GenerateKey made.
	keyA = "25e9a898c274460b59595bfe06e2023fcfc7c71ea30bbfd894c0c195a686e0be"
	keyB = "d0961237819fc3c9d53a24da760ab1049da25b24804f33ca64869be3bc1eb7f3"
)

func TestParseProperties(t *testing.T) {
	const machineDir = "/etc/choria/machines/machines_manager"

	valid := []struct {
		name  string
		props map[string]any
		check func(t *testing.T, s *Settings)
	}{
		{"takes the specification from a data item", map[string]any{"data_item": "spec"}, func(t *testing.T, s *Settings) {
			if s.DataItem != "spec" || s.Bucket != "" {
				t.Errorf("data item %q bucket %q", s.DataItem, s.Bucket)
			}
		}},
		{"takes the specification from a bucket and key", map[string]any{"bucket": "MACHINES", "key": "machines"}, func(t *testing.T, s *Settings) {
			if s.Bucket != "MACHINES" || s.Key != "machines" {
				t.Errorf("bucket %q key %q", s.Bucket, s.Key)
			}
		}},
		{"defaults the machines directory to the parent of the machine's directory", map[string]any{"data_item": "spec"}, func(t *testing.T, s *Settings) {
			if s.MachinesDirectory != "/etc/choria/machines" {
				t.Errorf("machines directory %q", s.MachinesDirectory)
			}
		}},
		{"fills every setting with the node loop's default", map[string]any{"data_item": "spec"}, func(t *testing.T, s *Settings) {
			if !reflect.DeepEqual(s.Node, nodeloop.DefaultSettings()) || s.GovernorTimeout != DefaultGovernorTimeout {
				t.Errorf("defaults not filled: %+v", s)
			}
			if s.Node.FullVerifyInterval != 0 || s.Node.Purge {
				t.Errorf("optional settings on by default: %+v", s)
			}
		}},
		{"reads limits, durations and schemes as operators write them in YAML", map[string]any{
			"data_item": "spec", "purge_unknown": true, "machines_directory": "/srv/machines",
			"max_download_bytes": 1024, "max_unpacked_bytes": "2048", "max_files": 10,
			"download_timeout": "30s", "governor_timeout": "1m", "full_verify_interval": "1h",
			"allow_schemes": []any{"HTTPS"},
		}, func(t *testing.T, s *Settings) {
			n := s.Node
			if !n.Purge || s.MachinesDirectory != "/srv/machines" || n.MaxDownloadBytes != 1024 ||
				n.MaxUnpackedBytes != 2048 || n.MaxFiles != 10 || n.DownloadTimeout != 30*time.Second ||
				s.GovernorTimeout != time.Minute || n.FullVerifyInterval != time.Hour ||
				strings.Join(n.AllowSchemes, ",") != "https" {
				t.Errorf("settings %+v", s)
			}
		}},
		{"reads the path, redirect and matcher limits every error names", map[string]any{
			"data_item": "spec", "max_path_length": 200, "max_redirects": 1, "max_matcher_length": 100,
			"max_matcher_nodes": 50, "max_matcher_steps": 1000, "max_matcher_bytes": "4096", "max_matcher_time": "250ms",
		}, func(t *testing.T, s *Settings) {
			m := s.Node.Matcher
			if s.Node.MaxPathLength != 200 || s.Node.MaxRedirects != 1 || m.MaxLength != 100 || m.MaxNodes != 50 ||
				m.MaxSteps != 1000 || m.MaxBytes != 4096 || m.MaxTime != 250*time.Millisecond {
				t.Errorf("settings %+v", s)
			}
		}},
		{"accepts one public key as a string", map[string]any{"data_item": "spec", "public_key": keyA}, func(t *testing.T, s *Settings) {
			if strings.Join(s.PublicKeys, ",") != keyA {
				t.Errorf("keys %v", s.PublicKeys)
			}
		}},
		{"accepts several public keys as a list", map[string]any{"data_item": "spec", "public_key": []any{keyA, keyB}}, func(t *testing.T, s *Settings) {
			if strings.Join(s.PublicKeys, ",") != keyA+","+keyB {
				t.Errorf("keys %v", s.PublicKeys)
			}
		}},
		{"accepts go-choria's machine_manage_interval and reports it as ignored", map[string]any{"data_item": "spec", "machine_manage_interval": "5m"}, func(t *testing.T, s *Settings) {
			if strings.Join(s.Legacy, ",") != "machine_manage_interval" {
				t.Errorf("legacy %v", s.Legacy)
			}
		}},
	}
	for _, tc := range valid {
		t.Run(tc.name, func(t *testing.T) {
			s, err := ParseProperties(tc.props, machineDir)
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			tc.check(t, s)
		})
	}

	invalid := []struct {
		name  string
		props map[string]any
		dir   string
		want  string
	}{
		{"refuses no specification source", map[string]any{}, machineDir, "give data_item, or bucket and key"},
		{"refuses a data item with a bucket", map[string]any{"data_item": "spec", "bucket": "MACHINES", "key": "k"}, machineDir, "exclusive"},
		{"refuses a bucket without a key", map[string]any{"bucket": "MACHINES"}, machineDir, "bucket and key go together"},
		{"refuses a key without a bucket", map[string]any{"key": "machines"}, machineDir, "bucket and key go together"},
		{"refuses a misspelt property", map[string]any{"data_item": "spec", "purge_unkown": true}, machineDir, "purge_unkown"},
		{"refuses a relative machines directory", map[string]any{"data_item": "spec", "machines_directory": "machines"}, machineDir, "absolute"},
		{"refuses to guess the machines directory of a machine without a directory", map[string]any{"data_item": "spec"}, "", "machines_directory is required"},
		{"refuses a status bucket that would name another subject", map[string]any{"data_item": "spec", "status_bucket": "a.b"}, machineDir, "status_bucket: invalid bucket name"},
		{"refuses a status heartbeat under a second", map[string]any{"data_item": "spec", "status_heartbeat": "10ms"}, machineDir, "status_heartbeat must be at least 1s"},
		{"refuses a zero download limit", map[string]any{"data_item": "spec", "max_download_bytes": 0}, machineDir, "max_download_bytes: 0 is below the minimum of 1"},
		{"refuses a negative unpacked limit", map[string]any{"data_item": "spec", "max_unpacked_bytes": -1}, machineDir, "max_unpacked_bytes: -1 is below the minimum"},
		{"refuses a zero file limit", map[string]any{"data_item": "spec", "max_files": 0}, machineDir, "max_files: 0 is below the minimum"},
		{"refuses a zero download timeout", map[string]any{"data_item": "spec", "download_timeout": "0s"}, machineDir, "download_timeout: 0s is below the minimum"},
		{"refuses a negative full verify interval", map[string]any{"data_item": "spec", "full_verify_interval": "-1s"}, machineDir, "full_verify_interval: -1s is below the minimum"},
		{"refuses a splay over an hour", map[string]any{"data_item": "spec", "splay": "2h"}, machineDir, "splay: 2h0m0s is above the maximum of 1h0m0s"},
		{"refuses the interval as a property, naming where it goes", map[string]any{"data_item": "spec", "interval": "5m"}, machineDir, "the watcher's own interval"},
		{"refuses a scheme other than http and https", map[string]any{"data_item": "spec", "allow_schemes": []any{"ftp"}}, machineDir, `scheme "ftp" is not supported`},
		{"refuses an empty scheme list", map[string]any{"data_item": "spec", "allow_schemes": []any{}}, machineDir, "at least one"},
		{"refuses a negative redirect limit", map[string]any{"data_item": "spec", "max_redirects": -1}, machineDir, "max_redirects: -1 is below the minimum of 0"},
		{"refuses a zero matcher time", map[string]any{"data_item": "spec", "max_matcher_time": "0s"}, machineDir, "max_matcher_time: 0s is below the minimum"},
		{"refuses a negative matcher length", map[string]any{"data_item": "spec", "max_matcher_length": -5}, machineDir, "max_matcher_length: -5 is below the minimum"},
		{"refuses a limit that is not a number", map[string]any{"data_item": "spec", "max_files": "many"}, machineDir, "max_files"},
	}
	for _, tc := range invalid {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseProperties(tc.props, tc.dir)
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not say %q", err, tc.want)
			}
		})
	}
}

func TestParseInterval(t *testing.T) {
	t.Run("defaults an empty interval", func(t *testing.T) {
		if d, err := ParseInterval(""); err != nil || d != nodeloop.DefaultInterval {
			t.Fatalf("got %v, %v", d, err)
		}
	})
	t.Run("accepts the minimum", func(t *testing.T) {
		if d, err := ParseInterval("2s"); err != nil || d != 2*time.Second {
			t.Fatalf("got %v, %v", d, err)
		}
	})
	t.Run("refuses an interval below two seconds", func(t *testing.T) {
		if _, err := ParseInterval("1s"); err == nil || !strings.Contains(err.Error(), "minimum") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("refuses an interval that is not a duration", func(t *testing.T) {
		if _, err := ParseInterval("often"); err == nil {
			t.Fatal("accepted")
		}
	})
}

func TestKeyringProperties(t *testing.T) {
	root1 := keyA
	cases := []struct {
		name  string
		props map[string]any
		want  string
	}{
		{"a threshold without roots", map[string]any{"bucket": "M", "key": "m", "keyring_threshold": 1}, "keyring_threshold needs keyring_roots"},
		{"roots with a data item", map[string]any{"data_item": "spec", "keyring_roots": root1}, "needs bucket and key"},
		{"a root that is no key", map[string]any{"bucket": "M", "key": "m", "keyring_roots": "00"}, "keyring_roots"},
		{"a threshold of 0 with two roots", map[string]any{"bucket": "M", "key": "m", "keyring_roots": []any{keyA, keyB}}, "say how many must sign"},
		{"a threshold above the roots", map[string]any{"bucket": "M", "key": "m", "keyring_roots": []any{keyA, keyB}, "keyring_threshold": 3}, "between 1 and the 2"},
	}
	for _, c := range cases {
		t.Run("refuses "+c.name, func(t *testing.T) {
			_, err := ParseProperties(c.props, "/etc/choria/machines/manager")
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want %q", err, c.want)
			}
		})
	}
	t.Run("takes roots as a list or a string, with their threshold", func(t *testing.T) {
		s, err := ParseProperties(map[string]any{"bucket": "M", "key": "m", "keyring_roots": keyA + "," + keyB, "keyring_threshold": "2"}, "/etc/choria/machines/manager")
		if err != nil {
			t.Fatal(err)
		}
		if len(s.Keyring.Roots) != 2 || s.Keyring.Threshold != 2 {
			t.Fatalf("anchor %+v", s.Keyring)
		}
	})
}

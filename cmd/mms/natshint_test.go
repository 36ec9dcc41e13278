package main

import (
	"crypto/x509"
	"net"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mms-io/mms/internal/testnats"
	"github.com/nats-io/nats-server/v2/server"
)

// TestNATSErrorsSayWhatToCheck runs mms get against real servers that fail in each way an
// operator meets, and checks the error names the operation, not a package, and says what to
// check.
func TestNATSErrorsSayWhatToCheck(t *testing.T) {
	closed := func() string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		return "nats://" + l.Addr().String()
	}()
	auth := testnats.StartWith(t, &server.Options{Username: "u", Password: "p", JetStream: true, StoreDir: t.TempDir()})
	noJS := testnats.StartWith(t, &server.Options{})
	withJS := natsServer(t)
	// A certificate from a CA the client is not given.
	dir := t.TempDir()
	cert, key := newTestCA(t).issue(t, filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"), x509.ExtKeyUsageServerAuth)
	tlsOpts, err := server.GenTLSConfig(&server.TLSConfigOpts{CertFile: cert, KeyFile: key})
	if err != nil {
		t.Fatal(err)
	}
	secure := testnats.StartWith(t, &server.Options{TLS: true, TLSConfig: tlsOpts, TLSTimeout: 2})

	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"no server", []string{"--server", closed}, "no NATS server answered at " + closed},
		{"no credentials", []string{"--server", auth.ClientURL()}, "the server wants credentials: give --creds"},
		{"no JetStream", []string{"--server", noJS.ClientURL()}, "JetStream is not enabled"},
		{"no bucket", []string{"--server", withJS.ClientURL(), "--bucket", "NOPE"}, "no bucket NOPE on that server"},
		{"an untrusted certificate", []string{"--server", strings.Replace(secure.ClientURL(), "nats://", "tls://", 1)}, "--tlsca"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := mms(t, t.TempDir(), append([]string{"get"}, c.args...)...)
			if r.code != 1 || !strings.Contains(r.stderr, c.want) {
				t.Fatalf("exit %d, stderr %q, want a hint saying %q", r.code, r.stderr, c.want)
			}
			if !strings.Contains(r.stderr, "hint: ") {
				t.Errorf("no hint: %q", r.stderr)
			}
			if strings.Contains(r.stderr, "kvspec") {
				t.Errorf("the error leaks the package name: %q", r.stderr)
			}
		})
	}
}

package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mms-io/mms/internal/testnats"
	"github.com/nats-io/nats-server/v2/server"
)

// selfSignedCert writes a certificate for 127.0.0.1 and its key in dir.
func selfSignedCert(t *testing.T, dir string) (cert, key string) {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	cert, key = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writeText(t, cert, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	writeText(t, key, string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})))
	return cert, key
}

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
	cert, key := selfSignedCert(t, t.TempDir())
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

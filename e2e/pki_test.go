package e2e

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

const (
	// certLifetime is how long the throwaway certificates are valid: long enough for any run.
	certLifetime = 24 * time.Hour
	// rsaBits is the key size: Choria's file provider signs requests with RSA keys only.
	rsaBits = 2048
)

// pki is a throwaway certificate authority for Choria's file security provider.
type pki struct {
	dir    string
	caFile string
	ca     *x509.Certificate
	caKey  *rsa.PrivateKey
	serial int64
}

// identityFiles are the certificate and key of one identity, as PEM files.
type identityFiles struct {
	name string
	cert string
	key  string
}

// newPKI creates a CA in dir.
func newPKI(dir string) (*pki, error) {
	key, err := rsa.GenerateKey(rand.Reader, rsaBits)
	if err != nil {
		return nil, fmt.Errorf("ca key: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "mms e2e CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(certLifetime),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("ca certificate: %w", err)
	}
	ca, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("ca certificate: %w", err)
	}
	p := &pki{dir: dir, caFile: filepath.Join(dir, "ca.pem"), ca: ca, caKey: key, serial: 1}
	if err := writePEM(p.caFile, "CERTIFICATE", der); err != nil {
		return nil, err
	}
	return p, nil
}

// issue signs a certificate whose common name and DNS name are the Choria identity name, valid
// for both server and client authentication and for 127.0.0.1, as the file provider expects.
func (p *pki) issue(name string) (identityFiles, error) {
	key, err := rsa.GenerateKey(rand.Reader, rsaBits)
	if err != nil {
		return identityFiles{}, fmt.Errorf("key for %s: %w", name, err)
	}
	p.serial++
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(p.serial),
		Subject:      pkix.Name{CommonName: name},
		DNSNames:     []string{name, "localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(certLifetime),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ca, &key.PublicKey, p.caKey)
	if err != nil {
		return identityFiles{}, fmt.Errorf("certificate for %s: %w", name, err)
	}
	keyDER := x509.MarshalPKCS1PrivateKey(key)
	f := identityFiles{
		name: name,
		cert: filepath.Join(p.dir, name+".pem"),
		key:  filepath.Join(p.dir, name+"-key.pem"),
	}
	if err := writePEM(f.cert, "CERTIFICATE", der); err != nil {
		return identityFiles{}, err
	}
	if err := writePEM(f.key, "RSA PRIVATE KEY", keyDER); err != nil {
		return identityFiles{}, err
	}
	return f, nil
}

func writePEM(path, kind string, der []byte) error {
	b := pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der})
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

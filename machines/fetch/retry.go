package fetch

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	jitter "github.com/mms-io/mms/internal/backoff"
	"net"
	"time"
)

// backoff is the wait before retry number attempt (1 for the first retry): base doubled for
// each earlier retry, capped at MaxRetryDelay, and jittered, so that nodes which failed
// together do not retry together.
func backoff(base time.Duration, attempt int) time.Duration {
	return jitter.Jittered(attempt-1, base, MaxRetryDelay)
}

// sleep waits d or until ctx ends, whichever comes first, and returns ctx's error if it ended.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// isTLSVerification reports whether err is a failed certificate check or TLS negotiation
// (a TLS alert from the server, such as "protocol version not supported"): retrying cannot
// fix it.
func isTLSVerification(err error) bool {
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Op == "remote error" {
		return true
	}
	var (
		cve  *tls.CertificateVerificationError
		ua   x509.UnknownAuthorityError
		he   x509.HostnameError
		ci   x509.CertificateInvalidError
		rhe  tls.RecordHeaderError
		alrt tls.AlertError
	)
	return errors.As(err, &cve) || errors.As(err, &ua) || errors.As(err, &he) ||
		errors.As(err, &ci) || errors.As(err, &rhe) || errors.As(err, &alrt)
}

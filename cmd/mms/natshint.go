package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"

	"github.com/mms-io/mms/kvspec"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// natsHint returns err with what to check, in the CLI's words, when it is one of the NATS
// failures an operator meets (no server, refused credentials, TLS, no JetStream, no bucket or
// key); otherwise err itself. url is the server tried.
func (k *kvFlags) natsHint(err error, url string) error {
	if hint := k.natsHintFor(err, url); hint != "" {
		return fmt.Errorf("%w\n  hint: %s", err, hint)
	}
	return err
}

func (k *kvFlags) natsHintFor(err error, url string) string {
	url = kvspec.RedactURLs(url)
	var (
		unknownCA *x509.UnknownAuthorityError
		hostname  x509.HostnameError
		verify    *tls.CertificateVerificationError
		record    tls.RecordHeaderError
	)
	switch {
	case err == nil:
		return ""
	case errors.Is(err, nats.ErrNoServers):
		return fmt.Sprintf("no NATS server answered at %s: is it running and listening there? Give another with --server or $NATS_URL; for a local mms agent's embedded server, --dir DIR", url)
	case errors.Is(err, nats.ErrAuthorization), errors.Is(err, nats.ErrAuthExpired):
		if k.creds == "" && k.user == "" {
			return "the server wants credentials: give --creds FILE, or --dir DIR for a local mms agent's embedded server"
		}
		return "the server refused the credentials given: check --creds (or the agent's, with --dir) and what the account may do"
	case errors.As(err, &unknownCA), errors.As(err, &verify), errors.As(err, &hostname):
		return "the server's TLS certificate was not trusted: give the CA that signed it with --tlsca, and check that the URL's host name is the certificate's"
	case errors.As(err, &record), errors.Is(err, nats.ErrSecureConnRequired), strings.Contains(err.Error(), "tls: "):
		return "a TLS problem: a Choria broker wants --tlscert, --tlskey and --tlsca; a plain server wants none of them"
	case errors.Is(err, nats.ErrSecureConnWanted):
		return "the server does not speak TLS: drop --tlscert, --tlskey and --tlsca, or use the server's TLS port"
	case errors.Is(err, jetstream.ErrJetStreamNotEnabled), errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount), errors.Is(err, nats.ErrNoResponders):
		return "JetStream is not enabled for this account on that server: a Choria broker enables it with plugin.choria.network.stream.store"
	case errors.Is(err, kvspec.ErrNoBucket):
		return fmt.Sprintf("no bucket %s on that server: publish with mms put (which creates it), or name another with --bucket", k.bucket)
	case errors.Is(err, kvspec.ErrNotFound):
		return fmt.Sprintf("nothing is published under %s in bucket %s: publish with mms put, or name another with --key", k.key, k.bucket)
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, nats.ErrTimeout):
		return fmt.Sprintf("no answer from %s in time: check the URL, the network, and that the server is not overloaded", url)
	}
	return ""
}

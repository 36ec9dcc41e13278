package fetch

import (
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Names of the limits a download can exceed, as reported by *errs.LimitError.Name; each is
// also the watcher property and (with dashes) the CLI flag that raises it.
const (
	// LimitMaxBytes names Options.MaxBytes.
	LimitMaxBytes = "max_download_bytes"
	// LimitMaxRedirects names Options.MaxRedirects.
	LimitMaxRedirects = "max_redirects"
	// LimitTimeout names Options.Timeout.
	LimitTimeout = "download_timeout"
)

// Defaults used by DefaultOptions.
const (
	// DefaultConnectTimeout bounds establishing one connection, TLS handshake included.
	DefaultConnectTimeout = 10 * time.Second
	// DefaultTimeout bounds one whole Fetch: every attempt, redirect, body and backoff wait.
	DefaultTimeout = 5 * time.Minute
	// DefaultMaxRedirects is the number of redirects followed before giving up.
	DefaultMaxRedirects = 5
	// DefaultMaxBytes is the largest body accepted: 256 MiB.
	DefaultMaxBytes int64 = 256 << 20
	// DefaultRetries is the number of retries after the first attempt for transient failures.
	DefaultRetries = 3
	// DefaultRetryBase is the backoff before the first retry; it doubles for each next one.
	DefaultRetryBase = 1 * time.Second
	// DefaultUserAgent is the User-Agent header sent with every request.
	DefaultUserAgent = "mms-fetch/1"
	// MaxRetryDelay caps one backoff wait, however many retries came before.
	MaxRetryDelay = 1 * time.Minute
)

// ErrInvalidOptions means Options failed Validate.
var ErrInvalidOptions = errors.New("invalid fetch options")

// supportedSchemes are the URL schemes the underlying http.Client can speak.
var supportedSchemes = []string{"http", "https"}

// SupportedSchemes returns the URL schemes a source may be allowed to use: the one list every
// host's setting and error refers to.
func SupportedSchemes() []string { return slices.Clone(supportedSchemes) }

var schemeRe = regexp.MustCompile(`^[a-z][a-z0-9+.-]*$`)

// Options configures a Fetcher. Build it with DefaultOptions and change what you need; the
// zero value is invalid, because zero never means unlimited.
type Options struct {
	// AllowedSchemes lists the URL schemes a source (and every redirect) may use: a subset
	// of http and https.
	AllowedSchemes []string
	// ConnectTimeout bounds establishing one connection, TLS handshake included.
	ConnectTimeout time.Duration
	// Timeout bounds one whole Fetch, retries and backoff waits included (download_timeout).
	Timeout time.Duration
	// MaxRedirects is how many redirects are followed (max_redirects); 0 follows none.
	MaxRedirects int
	// MaxBytes is the largest body accepted, in bytes (max_download_bytes).
	MaxBytes int64
	// RootCAs verifies servers' certificates; nil uses the system pool. Verification is
	// never skipped.
	RootCAs *x509.CertPool
	// UserAgent is sent as the User-Agent header; empty sends DefaultUserAgent.
	UserAgent string
	// Retries is how many times a transient failure (connection error, 5xx, 429) is retried
	// after the first attempt; 0 makes exactly one attempt.
	Retries int
	// RetryBase is the backoff before the first retry, doubled for each next one (capped at
	// MaxRetryDelay) and jittered down to half of it at random.
	RetryBase time.Duration
	// Logger receives one warning per retry; nil logs nothing. Lines never hold a password.
	Logger *slog.Logger
}

// DefaultOptions returns safe defaults: http and https, 10s to connect, 5m per download,
// 5 redirects, 256 MiB, 3 retries starting at 1s.
func DefaultOptions() Options {
	return Options{
		AllowedSchemes: SupportedSchemes(),
		ConnectTimeout: DefaultConnectTimeout,
		Timeout:        DefaultTimeout,
		MaxRedirects:   DefaultMaxRedirects,
		MaxBytes:       DefaultMaxBytes,
		UserAgent:      DefaultUserAgent,
		Retries:        DefaultRetries,
		RetryBase:      DefaultRetryBase,
	}
}

// Validate reports every setting that is missing or out of range, wrapping ErrInvalidOptions.
func (o Options) Validate() error {
	var problems []string
	if len(o.AllowedSchemes) == 0 {
		problems = append(problems, "AllowedSchemes is empty: allow at least one of http, https")
	}
	for _, s := range o.AllowedSchemes {
		switch {
		case !schemeRe.MatchString(s):
			problems = append(problems, fmt.Sprintf("scheme %q is not a lower-case URL scheme", s))
		case !slices.Contains(supportedSchemes, s):
			problems = append(problems, fmt.Sprintf("scheme %q is not supported (supported: %s)", s, strings.Join(supportedSchemes, ", ")))
		}
	}
	if o.MaxRedirects < 0 {
		problems = append(problems, fmt.Sprintf("MaxRedirects (%s) must not be negative, got %d", LimitMaxRedirects, o.MaxRedirects))
	}
	if strings.ContainsAny(o.UserAgent, "\r\n") {
		problems = append(problems, "UserAgent must be one line")
	}
	return invalidOptions(append(problems, o.downloadProblems()...))
}

// ValidateDownload reports the settings every source uses (ConnectTimeout, Timeout, MaxBytes,
// Retries, RetryBase) that are missing or out of range, as Validate does: for a source that is
// not HTTP, which ignores the rest.
func (o Options) ValidateDownload() error { return invalidOptions(o.downloadProblems()) }

// downloadProblems are what is wrong with the settings every source uses.
func (o Options) downloadProblems() []string {
	var problems []string
	if o.ConnectTimeout <= 0 {
		problems = append(problems, fmt.Sprintf("ConnectTimeout must be positive, got %s", o.ConnectTimeout))
	}
	if o.Timeout <= 0 {
		problems = append(problems, fmt.Sprintf("Timeout (%s) must be positive, got %s", LimitTimeout, o.Timeout))
	}
	if o.MaxBytes <= 0 {
		problems = append(problems, fmt.Sprintf("MaxBytes (%s) must be positive, got %d", LimitMaxBytes, o.MaxBytes))
	}
	if o.Retries < 0 {
		problems = append(problems, fmt.Sprintf("Retries must not be negative, got %d", o.Retries))
	}
	if o.Retries > 0 && o.RetryBase <= 0 {
		problems = append(problems, fmt.Sprintf("RetryBase must be positive when Retries is %d, got %s", o.Retries, o.RetryBase))
	}
	return problems
}

// invalidOptions is nil for no problems, else one error naming them all.
func invalidOptions(problems []string) error {
	if len(problems) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %s", ErrInvalidOptions, strings.Join(problems, "; "))
}

func (o Options) schemeAllowed(s string) bool { return slices.Contains(o.AllowedSchemes, s) }

package fetch

import (
	"fmt"
	"log/slog"
	"net/url"
	"strings"
)

// Source says where to download an archive from and with which credentials. Username and
// Password, when set, take precedence over userinfo in URL. Printing a Source (String, any
// fmt verb, slog) shows the URL with the password replaced by "xxxxx".
type Source struct {
	// URL is the archive's address; it may carry user:password userinfo.
	URL string
	// Username for HTTP basic authentication.
	Username string
	// Password for HTTP basic authentication; never printed.
	Password string
}

// String returns the URL with any password redacted (url.URL.Redacted), the Username field
// shown as the URL's user when set.
func (s Source) String() string {
	u, err := url.Parse(s.URL)
	if err != nil || u.Opaque != "" {
		// url.Parse did not find the parts, such as in "http:a:pw@h": keep what is surely not
		// a credential.
		return redactUnparsed(s.URL)
	}
	return Display(u)
}

// Display shows a URL as scheme, host and path only: never its userinfo (a username or a
// password), its query (where tokens live) or its fragment. Every source and redirect mms
// names in an error, a log line, a report or a file is shown so.
func Display(u *url.URL) string {
	return (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path, RawPath: u.RawPath}).String()
}

// Format prints the redacted String for every verb, so that %v, %+v, %#v, %s, %q and even
// %d of a Source never show the password.
func (s Source) Format(f fmt.State, verb rune) {
	if verb == 'q' {
		fmt.Fprintf(f, "%q", s.String())
		return
	}
	fmt.Fprint(f, s.String())
}

// LogValue logs a Source as its redacted String.
func (s Source) LogValue() slog.Value { return slog.StringValue(s.String()) }

// credentials returns the basic-auth user and password: the fields when either is set, else
// the URL's userinfo.
func (s Source) credentials(u *url.URL) (user, pass string, ok bool) {
	if s.Username != "" || s.Password != "" {
		return s.Username, s.Password, true
	}
	if u.User != nil {
		p, _ := u.User.Password()
		return u.User.Username(), p, true
	}
	return "", "", false
}

// redactUnparsed shows a URL that url.Parse refused or read as opaque without parsing it: all
// of the authority before its last '@' becomes "xxxxx", and the query and fragment go.
func redactUnparsed(raw string) string {
	if i := strings.IndexAny(raw, "?#"); i >= 0 {
		raw = raw[:i]
	}
	rest, scheme := raw, ""
	if i := strings.Index(raw, "://"); i >= 0 {
		scheme, rest = raw[:i+3], raw[i+3:]
	}
	end := strings.IndexAny(rest, "/")
	if end < 0 {
		end = len(rest)
	}
	if at := strings.LastIndex(rest[:end], "@"); at >= 0 {
		return scheme + "xxxxx" + rest[at:]
	}
	return raw
}

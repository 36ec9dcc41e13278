package objstore

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/mms-io/mms/machines/errs"
)

// Scheme is the URL scheme of an archive in the Object Store: obj://BUCKET/NAME.
const Scheme = "obj"

// bucketRe is what the Object Store accepts as a bucket name (nats.go's validBucketRe).
var bucketRe = regexp.MustCompile(`^[a-zA-Z0-9_-]+$`)

// Ref names one object: its bucket and its name in that bucket.
type Ref struct {
	// Bucket is the Object Store bucket, matching ^[a-zA-Z0-9_-]+$.
	Bucket string
	// Name is the object's name, unescaped; it may contain "/".
	Name string
}

// ParseURL reads obj://BUCKET/NAME. NAME is everything after the first "/" following the
// bucket, path-unescaped ("a%20b/c" names the object "a b/c"); it must not be empty. The URL
// carries nothing else: no userinfo, port, query or fragment (escape a "?" or "#" in a name as
// %3F or %23). A refusal wraps errs.ErrInvalidSpec and never quotes what could be a credential.
func ParseURL(raw string) (Ref, error) {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok || !strings.EqualFold(scheme, Scheme) {
		return Ref{}, invalidURL("it does not start with obj://")
	}
	bucket, escaped, hasName := strings.Cut(rest, "/")
	switch {
	case strings.Contains(bucket, "@"):
		return Ref{}, invalidURL("an obj:// URL takes no userinfo: the NATS connection's credentials apply")
	case strings.Contains(rest, "?"):
		return Ref{}, invalidURL("an obj:// URL takes no query (escape a ? in the object name as %3F)")
	case strings.Contains(rest, "#"):
		return Ref{}, invalidURL("an obj:// URL takes no fragment (escape a # in the object name as %23)")
	case strings.Contains(bucket, ":"):
		return Ref{}, invalidURL("an obj:// URL takes no port: the bucket is read over the NATS connection")
	case bucket == "":
		return Ref{}, invalidURL("it names no bucket")
	}
	ref := Ref{Bucket: bucket}
	if hasName {
		name, err := url.PathUnescape(escaped)
		if err != nil {
			return Ref{}, invalidURL("the object name has an invalid %-escape")
		}
		ref.Name = name
	}
	if err := ref.validate(); err != nil {
		return Ref{}, err
	}
	return ref, nil
}

// ErrBucketName means a name is not one the Object Store accepts for a bucket.
var ErrBucketName = errors.New("invalid Object Store bucket name")

// CheckBucket refuses a name the Object Store does not accept for a bucket (letters, digits,
// _ and - only), for a publisher's flag; the error wraps ErrBucketName.
func CheckBucket(name string) error {
	if !bucketRe.MatchString(name) {
		return fmt.Errorf("%w: %q (letters, digits, _ and - only)", ErrBucketName, name)
	}
	return nil
}

// validate checks the bucket name and that the object has a name.
func (r Ref) validate() error {
	if err := CheckBucket(r.Bucket); err != nil {
		return invalidURL(fmt.Sprintf("bucket %q is not a valid Object Store bucket name (letters, digits, _ and - only)", r.Bucket))
	}
	if r.Name == "" {
		return invalidURL("it names no object: write obj://BUCKET/NAME")
	}
	return nil
}

// String gives the URL back: obj://BUCKET/NAME, each "/"-separated part of the name
// path-escaped, so that ParseURL(r.String()) returns r.
func (r Ref) String() string {
	parts := strings.Split(r.Name, "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return Scheme + "://" + r.Bucket + "/" + strings.Join(parts, "/")
}

func invalidURL(why string) error {
	return fmt.Errorf("%w: invalid obj:// URL: %s", errs.ErrInvalidSpec, why)
}

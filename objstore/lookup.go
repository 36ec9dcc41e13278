package objstore

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/mms-io/mms/machines/errs"
)

// digestPrefix starts an Object Store digest: "SHA-256=" and the base64url of the sha256.
const digestPrefix = "SHA-256="

// lookup binds ref's bucket and reads the object's info, deleted objects included so that a
// deleted object is told from a missing one. A missing bucket wraps ErrNoBucket, a missing or
// deleted object ErrNoObject, a refusal ErrDenied; retry says whether the failure is transient.
// Fetch and Check both ask through it.
func lookup(ctx context.Context, js jetstream.JetStream, ref Ref) (obs jetstream.ObjectStore, info *jetstream.ObjectInfo, retry bool, err error) {
	obs, err = js.ObjectStore(ctx, ref.Bucket)
	if err != nil {
		retry, err = classify(js, ref, fmt.Sprintf("look up bucket %q", ref.Bucket), err)
		return nil, nil, retry, err
	}
	info, err = obs.GetInfo(ctx, ref.Name, jetstream.GetObjectInfoShowDeleted())
	if err != nil {
		retry, err = classify(js, ref, fmt.Sprintf("read the info of object %q", ref.Name), err)
		return nil, nil, retry, err
	}
	if info.Deleted {
		return nil, nil, false, fmt.Errorf("%w: object %q in bucket %q was deleted", ErrNoObject, ref.Name, ref.Bucket)
	}
	return obs, info, false, nil
}

// classify turns an error of operation op on ref into the reason to report, and says whether
// it is transient: a timeout, no responders, JetStream unavailable, a 5xx API error. A missing
// bucket or object, a refused access, a closed connection, an account without JetStream,
// unreadable metadata and other API errors are final. A cancelled or expired ctx is the
// caller's to recognise before it asks.
func classify(js jetstream.JetStream, ref Ref, op string, err error) (retry bool, reason error) {
	switch {
	case errors.Is(err, jetstream.ErrBucketNotFound), errors.Is(err, jetstream.ErrStreamNotFound):
		return false, fmt.Errorf("%w: the NATS account has no bucket %q", ErrNoBucket, ref.Bucket)
	case errors.Is(err, jetstream.ErrObjectNotFound):
		return false, fmt.Errorf("%w: bucket %q holds no object %q", ErrNoObject, ref.Bucket, ref.Name)
	}
	if why := denial(js, ref, err); why != "" {
		return false, fmt.Errorf("%w: %s: the server says: %s", ErrDenied, op, why)
	}
	var apiErr *jetstream.APIError
	switch {
	case errors.Is(err, nats.ErrConnectionClosed):
		return false, fmt.Errorf("%s: %w (a closed NATS connection never reopens)", op, err)
	case errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount), errors.Is(err, jetstream.ErrBadObjectMeta):
		return false, fmt.Errorf("%s: %w", op, err)
	case isTimeout(err):
		return true, fmt.Errorf("%s: no answer from the NATS server in time: %w", op, err)
	case errors.As(err, &apiErr):
		return apiErr.Code >= 500, fmt.Errorf("%s: %w", op, err)
	}
	// no responders, JetStream not enabled or not answering, a reconnecting connection, and
	// whatever else the client reports: worth another try
	return true, fmt.Errorf("%s: %w", op, err)
}

// denial returns the server's words when err is a refusal of access, else "". The server
// answers a request it refuses to route with an error on the connection and no reply, so a
// timeout counts as a refusal when the connection's last error is a permissions violation
// naming one of this bucket's subjects ($JS.API…OBJ_BUCKET…, $O.BUCKET.…) or the connection's
// inbox, where replies arrive. An API error 401 or 403 is a refusal too.
func denial(js jetstream.JetStream, ref Ref, err error) string {
	if errors.Is(err, nats.ErrPermissionViolation) {
		return serverWords(err)
	}
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) && (apiErr.Code == 401 || apiErr.Code == 403) {
		return apiErr.Error()
	}
	if !isTimeout(err) {
		return ""
	}
	nc := js.Conn()
	if nc == nil {
		return ""
	}
	last := nc.LastError()
	if last == nil || !errors.Is(last, nats.ErrPermissionViolation) {
		return ""
	}
	inbox := nc.Opts.InboxPrefix
	if inbox == "" {
		inbox = strings.TrimSuffix(nats.InboxPrefix, ".")
	}
	text := last.Error()
	for _, subject := range []string{"OBJ_" + ref.Bucket + `"`, "OBJ_" + ref.Bucket + ".", "$O." + ref.Bucket + ".", `to "` + inbox + "."} {
		if strings.Contains(text, subject) {
			return serverWords(last)
		}
	}
	return ""
}

// serverWords is a permissions violation as the server put it, without nats.go's prefix.
func serverWords(err error) string {
	return strings.TrimPrefix(err.Error(), nats.ErrPermissionViolation.Error()+": ")
}

func isTimeout(err error) bool {
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout)
}

// checkInfo refuses what the object's info shows is not the archive want names, before a byte
// is read: a link (name the object itself), a digest that is missing or unreadable, and a
// digest that is not want (errs.ErrChecksum, naming both as hex). Passing proves nothing about
// the content: Fetch still hashes what arrives.
func checkInfo(info *jetstream.ObjectInfo, want string) error {
	if info.Opts != nil && info.Opts.Link != nil {
		target := fmt.Sprintf("bucket %q", info.Opts.Link.Bucket)
		if info.Opts.Link.Name != "" {
			target = Ref{Bucket: info.Opts.Link.Bucket, Name: info.Opts.Link.Name}.String()
		}
		return fmt.Errorf("the object is a link to %s: name the object itself, whose digest can be checked", target)
	}
	got, err := storeDigest(info.Digest)
	if err != nil {
		return err
	}
	if got != want {
		return fmt.Errorf("%w: expected %s got %s (the Object Store's digest of the object)", errs.ErrChecksum, want, got)
	}
	return nil
}

// storeDigest decodes an Object Store digest, "SHA-256=" and the base64url of the sha256
// (padded, as nats.go writes it, or not), to lower-case hex.
func storeDigest(d string) (string, error) {
	enc, ok := strings.CutPrefix(d, digestPrefix)
	if !ok {
		return "", fmt.Errorf("the object's info has no SHA-256 digest (digest %q)", d)
	}
	sum, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(enc, "="))
	if err != nil || len(sum) != 32 {
		return "", fmt.Errorf("the object's info has an unreadable SHA-256 digest %q", d)
	}
	return hex.EncodeToString(sum), nil
}

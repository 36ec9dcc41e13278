package fetch

import (
	"context"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"net/url"

	"github.com/mms-io/mms/machines/errs"
)

// attempt is one request's parameters; url carries no userinfo.
type attempt struct {
	url, user, pass string
	auth            bool
}

// once makes one request and streams a 200 body into w and h. It returns the body bytes
// that reached w, the status when it was not 200, the reason it failed and whether the
// failure is transient.
func (f *Fetcher) once(ctx context.Context, a attempt, w io.Writer, h hash.Hash, buf []byte) (n int64, status int, reason error, retry bool) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.url, nil)
	if err != nil {
		return 0, 0, errors.New("invalid URL: cannot build a request"), false
	}
	req.Header.Set("User-Agent", f.opts.UserAgent)
	if a.auth {
		req.SetBasicAuth(a.user, a.pass)
	}
	resp, err := f.client.Do(req)
	if err != nil {
		reason, retry := transportFailure(err)
		return 0, 0, reason, retry
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		code := resp.StatusCode
		reason := statusError(code)
		if resp.Request != nil && resp.Request.URL.String() != a.url {
			reason = fmt.Errorf("%w from %s", reason, Display(resp.Request.URL))
		}
		return 0, code, reason, code == http.StatusTooManyRequests || code >= 500
	}
	if resp.ContentLength > f.opts.MaxBytes {
		return 0, 0, BytesLimit(f.opts.MaxBytes, fmt.Sprintf("the announced Content-Length of %d bytes", resp.ContentLength)), false
	}
	if st, ok := w.(SizeTaker); ok && resp.ContentLength > 0 {
		st.ExpectSize(resp.ContentLength)
	}
	body := &capReader{r: resp.Body, left: f.opts.MaxBytes}
	n, err = io.CopyBuffer(io.MultiWriter(w, h), body, buf)
	switch {
	case body.over:
		return n, 0, BytesLimit(f.opts.MaxBytes, "the body"), false
	case err != nil && body.err != nil && errors.Is(err, body.err):
		return n, 0, fmt.Errorf("reading the body: %w", err), true
	case err != nil:
		return n, 0, fmt.Errorf("writing the body: %w", err), false
	}
	return n, 0, nil, false
}

// transportFailure turns an error from http.Client.Do into a reason without the URL (the
// client's *url.Error quotes it, and a redirect's Location may carry userinfo) and says
// whether it is worth retrying.
func transportFailure(err error) (error, bool) {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var le *errs.LimitError
	switch {
	case errors.As(err, &le), isRedirectError(err):
		return err, false
	case isTLSVerification(err):
		return err, false
	}
	return err, true
}

// capReader reads at most left bytes from r; asked for more, it sets over and fails, having
// passed on no byte beyond the limit.
type capReader struct {
	r    io.Reader
	left int64
	over bool
	err  error
}

var errOverLimit = errors.New("body over the size limit")

func (c *capReader) Read(p []byte) (int, error) {
	if int64(len(p)) > c.left+1 {
		p = p[:c.left+1]
	}
	n, err := c.r.Read(p)
	if int64(n) > c.left {
		n, c.left, c.over = int(c.left), 0, true
		return n, errOverLimit
	}
	c.left -= int64(n)
	if err != nil && err != io.EOF {
		c.err = err
	}
	return n, err
}

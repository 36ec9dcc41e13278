package fetch

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
)

// FetchToFile downloads src into a new file at path, created with mode 0600 (it must not
// exist), and fsyncs it and its directory before returning. On any error the file is removed,
// so path holds either the complete body that hashed to wantSHA256 or nothing.
//
// Credentials are Source.Username and Source.Password, or else the URL's userinfo, sent as
// HTTP basic authentication. Only a 200 answer is accepted; a Content-Length over MaxBytes is
// refused before reading, and reading stops the moment the body passes MaxBytes. At most
// MaxRedirects redirects are followed, never from https to http nor to a scheme that is not
// allowed, and credentials are sent only to the original URL's host and port. Retries are
// those of Fetch; a download broken mid-body restarts from an empty file.
func (f *Fetcher) FetchToFile(ctx context.Context, src Source, wantSHA256, path string) (Result, error) {
	file, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return Result{}, &Error{URL: src.String(), Err: fmt.Errorf("create the output file: %w", err)}
	}
	res, err := f.Fetch(ctx, src, wantSHA256, file)
	if err == nil {
		if serr := file.Sync(); serr != nil {
			err = &Error{URL: src.String(), Attempts: res.Attempts, Err: fmt.Errorf("sync %s: %w", path, serr)}
		}
	}
	if cerr := file.Close(); err == nil && cerr != nil {
		err = &Error{URL: src.String(), Attempts: res.Attempts, Err: fmt.Errorf("close %s: %w", path, cerr)}
	}
	if err == nil {
		if serr := syncDir(filepath.Dir(path)); serr != nil {
			err = &Error{URL: src.String(), Attempts: res.Attempts, Err: fmt.Errorf("sync the directory of %s: %w", path, serr)}
		}
	}
	if err != nil {
		_ = os.Remove(path)
		return res, err
	}
	return res, nil
}

// syncDir fsyncs a directory so that a file just created in it survives a crash.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

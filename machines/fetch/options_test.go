package fetch

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestOptions(t *testing.T) {
	t.Run("defaults are valid and safe", func(t *testing.T) {
		o := DefaultOptions()
		if err := o.Validate(); err != nil {
			t.Fatal(err)
		}
		if strings.Join(o.AllowedSchemes, ",") != "http,https" || o.ConnectTimeout != 10*time.Second || o.Timeout != 5*time.Minute ||
			o.MaxRedirects != 5 || o.MaxBytes != 256<<20 || o.Retries <= 0 || o.RetryBase <= 0 || o.RootCAs != nil {
			t.Errorf("unexpected defaults %+v", o)
		}
	})

	t.Run("the zero value is invalid, naming every missing setting", func(t *testing.T) {
		err := Options{}.Validate()
		if !errors.Is(err, ErrInvalidOptions) {
			t.Fatalf("want ErrInvalidOptions, got %v", err)
		}
		for _, want := range []string{"AllowedSchemes", "ConnectTimeout", "Timeout (download_timeout)", "MaxBytes (max_download_bytes)"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%q does not mention %s", err, want)
			}
		}
		if _, err := New(Options{}); !errors.Is(err, ErrInvalidOptions) {
			t.Errorf("New accepted the zero Options: %v", err)
		}
	})

	refusals := []struct {
		name   string
		change func(*Options)
		says   string
	}{
		{"refuses a zero MaxBytes: zero never means unlimited", func(o *Options) { o.MaxBytes = 0 }, "max_download_bytes"},
		{"refuses a negative MaxBytes", func(o *Options) { o.MaxBytes = -1 }, "max_download_bytes"},
		{"refuses a zero Timeout", func(o *Options) { o.Timeout = 0 }, "download_timeout"},
		{"refuses a zero ConnectTimeout", func(o *Options) { o.ConnectTimeout = 0 }, "ConnectTimeout"},
		{"refuses negative MaxRedirects", func(o *Options) { o.MaxRedirects = -1 }, "max_redirects"},
		{"refuses negative Retries", func(o *Options) { o.Retries = -1 }, "Retries"},
		{"refuses retries without a RetryBase, which would hammer the source", func(o *Options) { o.RetryBase = 0 }, "RetryBase"},
		{"refuses no allowed scheme", func(o *Options) { o.AllowedSchemes = nil }, "AllowedSchemes"},
		{"refuses a scheme it cannot speak", func(o *Options) { o.AllowedSchemes = []string{"https", "file"} }, `"file" is not supported`},
		{"refuses an upper-case scheme that would never match", func(o *Options) { o.AllowedSchemes = []string{"HTTPS"} }, `"HTTPS"`},
		{"refuses a User-Agent spanning lines", func(o *Options) { o.UserAgent = "mms\r\nX-Evil: 1" }, "UserAgent"},
	}
	for _, r := range refusals {
		t.Run(r.name, func(t *testing.T) {
			o := DefaultOptions()
			r.change(&o)
			err := o.Validate()
			if !errors.Is(err, ErrInvalidOptions) || !strings.Contains(err.Error(), r.says) {
				t.Fatalf("want ErrInvalidOptions mentioning %s, got %v", r.says, err)
			}
		})
	}

	t.Run("accepts no retries and no redirects", func(t *testing.T) {
		o := DefaultOptions()
		o.Retries, o.RetryBase, o.MaxRedirects = 0, 0, 0
		if err := o.Validate(); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("a Fetcher keeps its own copy of the allowed schemes", func(t *testing.T) {
		o := DefaultOptions()
		f, err := New(o)
		if err != nil {
			t.Fatal(err)
		}
		o.AllowedSchemes[0] = "https"
		if !f.opts.schemeAllowed("http") {
			t.Error("changing the caller's slice changed the Fetcher")
		}
	})
}

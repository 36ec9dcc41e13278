package errs

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestLimitErrorNamesTheLimit(t *testing.T) {
	err := fmt.Errorf("install %q: %w", "web", &LimitError{Name: "max_download_bytes", Limit: 1024, Unit: "bytes", What: "GET http://127.0.0.1/a.tgz"})
	if !errors.Is(err, ErrLimit) {
		t.Fatalf("errors.Is(ErrLimit) = false for %v", err)
	}
	if errors.Is(err, ErrChecksum) {
		t.Fatalf("a limit error must not match ErrChecksum")
	}
	var le *LimitError
	if !errors.As(err, &le) || le.Limit != 1024 {
		t.Fatalf("errors.As did not recover the limit: %v", err)
	}
	if strings.Contains(err.Error(), "raise") || strings.Contains(err.Error(), "--") {
		t.Errorf("%q names a host's setting: that is the host's to say", err)
	}
	for _, want := range []string{"max_download_bytes", "1024 bytes", "GET http://127.0.0.1/a.tgz"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q does not mention %q", err, want)
		}
	}
}

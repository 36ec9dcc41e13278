package kvspec

import (
	"errors"
	"testing"
)

func TestCheckBucket(t *testing.T) {
	for _, ok := range []string{"MACHINES", "MACHINES_STATUS", "a-b_9"} {
		if err := CheckBucket(ok); err != nil {
			t.Errorf("%q refused: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "a.b", "a*", "a>", "a b", "ü"} {
		if err := CheckBucket(bad); !errors.Is(err, ErrBucketName) {
			t.Errorf("%q: %v, want ErrBucketName", bad, err)
		}
	}
}

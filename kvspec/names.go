package kvspec

import (
	"errors"
	"fmt"
	"regexp"
)

// ErrBucketName means a name cannot be a Key-Value bucket's.
var ErrBucketName = errors.New("invalid bucket name")

// bucketRe is what JetStream accepts as a Key-Value bucket's name.
var bucketRe = regexp.MustCompile(`^[a-zA-Z0-9_-]+$`)

// CheckBucket refuses a name JetStream would not take as a bucket's: one that, put into a
// subject ($KV.<bucket>.<key>), would name another bucket and key (a dot) or many (a wildcard).
func CheckBucket(name string) error {
	if !bucketRe.MatchString(name) {
		return fmt.Errorf("%w: %q: letters, digits, _ and - only", ErrBucketName, name)
	}
	return nil
}

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

// KeyringKey is the key, next to the specification's key, that holds one version of the
// keyring that signs for it: "machines.keyring.3" beside "machines". Each version has its own
// key, so that a node behind by several versions reads each in turn (package keyring walks
// them), and a version once written is never replaced (Create).
func KeyringKey(specKey string, version int64) string {
	return fmt.Sprintf("%s.keyring.%d", specKey, version)
}

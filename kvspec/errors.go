package kvspec

import "errors"

var (
	// ErrNotFound means the key does not exist, or its latest revision is a delete or purge marker.
	ErrNotFound = errors.New("key not found")
	// ErrNoBucket means the Key-Value bucket does not exist.
	ErrNoBucket = errors.New("bucket not found")
	// ErrBucketConfig means a BucketConfig asks for something JetStream cannot do.
	ErrBucketConfig = errors.New("invalid bucket configuration")
)

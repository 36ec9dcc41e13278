//go:build mms_test_features

package spec

// A build with -tags mms_test_features also knows the feature "mms-test", which asks for
// nothing: the CLI's tests build such an mms to see a feature that only some nodes know go
// from `mms pack --require` through `mms verify`.
func init() { knownFeatures["mms-test"] = true }

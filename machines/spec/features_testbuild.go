//go:build mms_test_features

package spec

// A build with -tags mms_test_features also knows the feature "mms-test", which asks for
// nothing, and FeatureRollout, whose node side is still being built: the CLI's tests build such
// an mms to see a known feature go from `mms pack --require` through `mms verify`, and a
// rollout policy from `mms pack` through `mms verify`, `mms match` and `mms apply --dry-run`,
// which no feature of a plain build can do yet.
func init() {
	knownFeatures["mms-test"] = true
	knownFeatures[FeatureRollout] = true
}

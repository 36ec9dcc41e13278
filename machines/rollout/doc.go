// Package rollout holds the pure parts of staged rollouts (issue 16): the waves a change
// spreads in, which wave a node is in, and the failure budget. A node decides its own wave
// from its identity, the entry's name and the change's new checksum alone, deterministically
// and uniformly: a new release gets new canaries, the same release always the same ones. No
// node, broker or operator assigns waves.
//
// Nothing here reads the fleet or changes a machines directory: the gate that waits on the
// earlier waves, the health checks and the revert are the node loop's. Until they exist no
// specification can use a rollout policy: "rollout" is not among spec.KnownFeatures, so a
// node refuses a specification that requires it.
package rollout

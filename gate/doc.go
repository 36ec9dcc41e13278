// Package gate keeps the staged-rollout gate in NATS, with no rollout server: for every change
// (an entry's name and new checksum) and wave, counters the nodes keep themselves in a
// JetStream stream of distributed counters (NATS 2.12+, Nats-Incr), and the controls of the
// change (halt, pause, signed resume and promotion) in a Key-Value bucket.
//
// A node asks the gate with two reads, whatever the fleet size: the last value of every
// counter of the change, and every control of it, each one batched direct get. It never reads
// another node's status key. What the counts mean is package machines/rollout's judgement.
//
// Subjects and keys, for change ID c (ChangeID) and wave w (0 for the first):
//
//	mms.rollout.<c>.<w>.<kind>   counter stream, kind one of members, took, healthy, unhealthy, reverted
//	<c>.halt                     control bucket: why it halted (written once, by the first node to see it)
//	<c>.pause                    control bucket: an operator's pause (unsigned, logged by every node)
//	<c>.resume, <c>.promote      control bucket: signed by a trusted key, else ignored and logged
package gate

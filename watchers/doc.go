// Package watchers is the Choria watcher plugin of type `machines`: it adapts a Choria
// autonomous agent (a go-choria v0.30 model.Machine) to the mms core, which decides and
// carries out what a signed specification asks of this node's machines directory. It takes
// go-choria v0.30's watcher constructor, so a machine.yaml may make it wait for other
// machines' states (foreign_state_required), which the framework checks before each reconcile.
//
// The watcher runs the node loop (package nodeloop), the same as mms agent: this package only
// adapts it to Choria. The loop's source is either machine data (`data_item`, filled by
// Choria's `kv` watcher, as go-choria v0.29.4 did; a data item, which has no change
// notification, is looked at every second) or a NATS KV key (`bucket` + `key`, followed over the
// machine's JetStream connection). Its gate is the machine's states and the foreign states the
// watcher requires; state changes wake it; its observers publish the notification, count the
// metrics, fire the transitions and save the last report for mms status.
//
// Trusted keys come from, strongest first: the Choria setting
// plugin.choria.machine.signing_key (machine.SignerKey()), a key compiled in with
//
//	go build -ldflags "-X github.com/mms-io/mms/watchers.PublicKey=<64 hex characters>"
//
// and the watcher's `public_key` property. The strongest source that holds any key supplies
// all the trusted keys; weaker sources are ignored (see TrustedKeys). With no key at all the
// watcher accepts unsigned specifications, as v0.29.4 did, and says so in every notification.
//
// Beside the keys, or instead of them, the watcher may trust a keyring (package
// machines/keyring): `keyring_roots` (one key or a list) and `keyring_threshold` (how many of
// them must sign the first keyring it takes; it may be left out with one root). It reads the
// keyring's versions beside its key in its bucket (KEY.keyring.N, so only with `bucket` and
// `key`), walks to the newest before each reconcile, and then takes a specification that
// enough of the keyring's signers signed, each entry within their scope.
//
// Every reconcile publishes a StateNotification (CloudEvent type
// io.choria.machine.watcher.machines.v1.state, readable as go-choria's own machines watcher
// notification by a stock `choria machine watch`) and updates Prometheus metrics in the
// default registry, which Choria exposes on its statistics port.
package watchers

// Package keyring holds mms's keyring: a versioned document, signed by k of n offline root
// keys, that names the online signers of machine specifications (each with its key, a name,
// the machine-name patterns it may sign for and an expiry) and how many distinct signers a
// specification needs.
//
// A node is configured with an Anchor (root keys and a threshold). It walks from the keyring it
// holds to the newest one the way TUF walks its root metadata: version N+1 is taken only when
// a threshold of N's roots and a threshold of N+1's own roots signed it, never a lower
// version, and the newest must not have expired (Walk). Keeper does that before each reconcile
// and keeps where it got in DIR/.mms/keyring.json, and its Signers are what spec.Open checks a
// specification's signatures against.
//
// Nodes that trust bare public keys do not need a keyring and behave as they always did.
package keyring

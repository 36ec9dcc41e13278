// Package machines turns a verified specification into exactly the right machines on disk: it
// plans, per entry, whether to install, update, keep, repair, adopt, skip, refuse or remove, and
// applies that plan with bounded parallel downloads, atomic installs and a record of what mms
// manages. Its layers live in sub-packages: spec (format, keys, trust), match (matchers),
// fetch (downloads), archive (safe extraction and building), sums (SHA256SUMS verification),
// install (atomic swap and the on-disk record). It imports neither go-choria nor NATS; the
// Choria watcher and the mms CLI are thin adapters over Reconcile.
package machines

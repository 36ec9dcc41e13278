// Command install measures installing a machine with mms against the classic shell pipeline
// (curl, sha256sum, tar, sha256sum -c) of the same archive from the same loopback server, the
// peak memory of mms apply for two archive sizes, and a reconcile in which nothing changed.
//
// Run it from the module root: go run ./bench/install (see README.md for flags and figures).
package main

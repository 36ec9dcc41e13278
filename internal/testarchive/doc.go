// Package testarchive serves real machine archives over loopback HTTP for the tests of mms's
// packages, so that the core's tests and the watcher's tests fetch, verify and install the
// same kind of archive, and sign the same specifications, without each keeping its own copy.
//
// It is for tests only: it takes a testing.TB, fails the test on any error and closes what it
// starts when the test ends.
package testarchive

// Package sums parses SHA256SUMS files and verifies machine directories against them, re-hashing
// only the files whose inode state changed since they were last verified.
package sums

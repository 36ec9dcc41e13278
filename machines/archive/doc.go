// Package archive unpacks machine archives safely and builds reproducible ones.
//
// Extract streams a gzip-compressed tar into a new directory, refusing anything a machine has
// no use for and an attacker does: members outside the single top-level directory, absolute
// paths, ".." elements, links, devices, FIFOs, setuid and setgid bits, duplicates. Limits on
// unpacked bytes, file count and name length are enforced while reading, so a decompression
// bomb is stopped after at most the limits' worth of work and disk, in constant memory. Every
// write goes through os.Root, so a check missed here still cannot escape the target directory.
//
// Build is the other side: it writes a machine directory's SHA256SUMS and a byte-for-byte
// reproducible archive of it that Extract accepts.
package archive

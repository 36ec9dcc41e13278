// Package fetch downloads machine archives safely: only allowed schemes, TLS always verified,
// status codes checked, and bounded size, time and redirects, with the content hashed while it
// streams and refused unless it matches the expected sha256.
//
// A Fetcher holds one http.Client built from Options; DefaultOptions gives safe limits, and
// zero never means unlimited. Fetch streams a download into any writer; FetchToFile writes a
// new 0600 file, fsyncs it and removes it on any failure, so a caller sees either the complete
// verified file or none.
//
// Transient failures (connection errors, 5xx and 429 answers) are retried with jittered
// exponential backoff, so that a fleet of nodes does not hammer a failing source in lock-step;
// other 4xx answers, refusals and checksum mismatches are never retried. The whole download,
// retries and waits included, is bounded by Options.Timeout and by the caller's context.
//
// What is protected: credentials (Source.Username and Source.Password, or the URL's userinfo)
// are sent only to the host of the original URL, never after a redirect to another host,
// never printed by Source's String or fmt verbs, and never part of an error or log line.
// An https URL is never redirected to http.
//
// What is not: plain http carries credentials and content in the clear (the checksum still
// protects the content); Source in an unexported field of another struct is printed raw by
// fmt, so keep it exported or print it with %v directly.
package fetch

// Package demo holds the example machine that `mms demo` builds, serves and deploys: a small
// Choria Autonomous Agent, in two versions, so that the demo can show an install and an update.
package demo

// Package dist holds what mms ships besides its binary, for operators to install on a node:
// systemd/mms-agent.service, a hardened systemd unit that runs `mms agent`, and
// systemd/mms-agent.env, the example of the environment file that unit reads
// (/etc/default/mms-agent). docs/systemd.md says how to install them and why each hardening
// directive is there.
//
// The package has no Go API. Its tests parse the unit and check its hardening directives,
// check that every flag the unit passes (with the example environment file's values, and with
// the alternatives that file shows in comments) is a flag `mms agent --help` prints, and, where
// systemd-analyze is installed, that systemd itself accepts the unit.
package dist

package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mms-io/mms/internal/testnats"
	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nkeys"

	"github.com/mms-io/mms/internal/testwait"
	"github.com/mms-io/mms/machines"
	"github.com/mms-io/mms/nodeloop"
)

// TestReadmeRunsAsWritten runs every `mms` command line of the README, as a user copies it,
// in README order, as one walkthrough: each indented code line starting with `mms ` (the lines
// TestReadmeCommandsExist checks, `# comments` stripped) runs through `sh -c` (so that
// `> spec.json` and `"$(cat ...)"` work) in one sandbox working directory that is also $HOME,
// with the mms binary under test first on $PATH, so later lines use the files earlier ones
// made (signer.key, spec.json, ...). A line must exit 0 and do what the README says it does;
// a README naming a command that does not work fails here.
//
// The test makes by hand only what the README tells the user to make (the before steps in
// runReadme, each saying why): the machine directory ./facts, machines.json holding the entry `mms archive`
// printed, facts.json, the operator's TLS files me.pem, me.key and ca.pem, the node's
// node.creds and the NATS context "lab"; it "uploads" the archive to its source URL.
//
// What cannot run as written on this machine (system paths, remote hosts, the embedded
// server's default port) is rewritten by the substitution table in runReadme, and nothing
// else is. `mms agent` lines run in the background until the end of the test, and the test
// waits for what the README says they do. A line that cannot run here at all is exempted in
// readmeExempt, naming the test that runs it; an exemption whose line left the README fails
// this test, and so does a README `mms` line that was neither run nor exempted.
//
// Lines that do not start with `mms ` (go, choria, sudo, eval) are out of scope.
func TestReadmeRunsAsWritten(t *testing.T) {
	runReadme(t, "../../README.md")
}

// readmeExempt maps each README line this test cannot run here to the test that runs the
// same command.
var readmeExempt = map[string]string{
	// Needs a Choria broker and go-choria's client configuration; e2e runs this command
	// against a real go-choria v0.30.2 broker.
	"mms get --public-key ops.pub --choria-config /etc/choria/client.conf": "TestOperatorFleet in e2e/e2e_test.go",
}

// readmeMMSLines returns the README's `mms` command lines in order, as TestReadmeCommandsExist
// finds them, comments stripped.
func readmeMMSLines(t *testing.T, readme string) []string {
	t.Helper()
	data, err := os.ReadFile(readme)
	if err != nil {
		t.Fatal(err)
	}
	lineRe := regexp.MustCompile(`(?m)^    (?:\$ )?mms ([a-z]+)(.*)$`)
	var lines []string
	for _, m := range lineRe.FindAllStringSubmatch(string(data), -1) {
		rest := m[2]
		if i := strings.Index(rest, "#"); i >= 0 {
			rest = rest[:i]
		}
		lines = append(lines, strings.TrimSpace("mms "+m[1]+rest))
	}
	if len(lines) < 10 {
		t.Fatalf("found only %d mms command lines in %s", len(lines), readme)
	}
	return lines
}

// readmeSubstitution rewrites what cannot run as written on this machine.
type readmeSubstitution struct {
	old, new, why string
	used          int
}

// readmeStep is what the test does around one README line: by hand before it (what the
// README tells the user to do), and the checks after it of what the README says it does.
type readmeStep struct {
	before func(t *testing.T)
	after  func(t *testing.T, r result)
	// exit is the code the README says the line exits with: 0 unless it says otherwise.
	exit int
	// background: the line runs until the end of the test (mms agent).
	background bool
	// started is checked once a background line started.
	started func(t *testing.T, p *process)
}

// readmeWalk is the sandbox the README's lines run in.
type readmeWalk struct {
	home string   // the working directory and $HOME
	env  []string // the environment of every line
}

func (w *readmeWalk) path(name string) string { return filepath.Join(w.home, name) }

// run runs one line through sh -c in the sandbox; a line that does not end within waitLong
// fails (one that runs until stopped must be a background step).
func (w *readmeWalk) run(t *testing.T, line string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLong)
	defer cancel()
	cmd := exec.CommandContext(ctx, "sh", "-c", line)
	cmd.Dir, cmd.Env, cmd.WaitDelay = w.home, w.env, time.Second
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run %q: %v", line, err)
	}
	if ctx.Err() != nil {
		t.Fatalf("%q did not end within %s; if it runs until stopped, make its step background\nstdout:\n%s\nstderr:\n%s", line, waitLong, &out, &errb)
	}
	return result{stdout: out.String(), stderr: errb.String(), code: code}
}

// start starts one line in the background (exec, so that its PID is mms's own and stop
// signals mms alone) and stops it at the end of the test.
func (w *readmeWalk) start(t *testing.T, line string) *process {
	t.Helper()
	cmd := exec.Command("sh", "-c", "exec "+line)
	cmd.Dir, cmd.Env = w.home, w.env
	p := startProcess(t, cmd)
	t.Cleanup(func() {
		if code := p.stop(t); code != 0 {
			t.Errorf("%s: exit %d after SIGTERM, want 0 (a clean stop)", line, code)
		}
		if t.Failed() {
			t.Logf("%s\nstdout:\n%s\nstderr:\n%s", line, p.stdout, p.stderr)
		}
	})
	return p
}

// runReadme runs the mms lines of the README at readme (a parameter so that a broken copy
// can be shown to fail).
func runReadme(t *testing.T, readme string) {
	began := time.Now()
	lines := readmeMMSLines(t, readme)

	// The sandbox: the working directory and $HOME of every line, with the mms under test
	// first on $PATH.
	w := &readmeWalk{home: t.TempDir()}
	bin := t.TempDir()
	if err := os.Symlink(mmsPath(t), filepath.Join(bin, "mms")); err != nil {
		t.Fatal(err)
	}
	srvFiles := t.TempDir() // the servers' own files, not the user's

	// https://repo.example.net/: a local TLS server serving what was uploaded to it. mms
	// trusts its certificate through SSL_CERT_FILE, as Go reads it on Linux, so that the
	// agents really download the archive over verified TLS.
	repoDir := filepath.Join(srvFiles, "repo")
	if err := os.MkdirAll(repoDir, 0o755); err != nil {
		t.Fatal(err)
	}
	repo := httptest.NewTLSServer(http.FileServer(http.Dir(repoDir)))
	t.Cleanup(repo.Close)
	repoCA := filepath.Join(srvFiles, "repo-ca.pem")
	writeText(t, repoCA, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: repo.Certificate().Raw})))

	w.env = []string{
		"PATH=" + bin + string(os.PathListSeparator) + os.Getenv("PATH"),
		"HOME=" + w.home,
		"XDG_CONFIG_HOME=" + w.path(".config"),
		"SSL_CERT_FILE=" + repoCA,
	}

	// tls://broker.example.net:4222: a local NATS server with JetStream and TLS that requires
	// a client certificate, like a Choria broker. The operator's me.pem, me.key and ca.pem are
	// made by the README's reader; here by a test CA.
	ca := newTestCA(t)
	brokerCert, brokerKey := ca.issue(t, filepath.Join(srvFiles, "broker.pem"), filepath.Join(srvFiles, "broker.key"), x509.ExtKeyUsageServerAuth)
	caFile := filepath.Join(srvFiles, "ca.pem")
	writeText(t, caFile, string(ca.pem))
	tlsConfig, err := server.GenTLSConfig(&server.TLSConfigOpts{CertFile: brokerCert, KeyFile: brokerKey, CaFile: caFile, Verify: true})
	if err != nil {
		t.Fatal(err)
	}
	broker := testnats.StartWith(t, &server.Options{TLS: true, TLSVerify: true, TLSConfig: tlsConfig, TLSTimeout: 2, JetStream: true, StoreDir: filepath.Join(srvFiles, "broker")})

	// nats://nats.example.net:4222: a local NATS server with JetStream in operator mode (JWT
	// authentication, as a production NATS deployment), so node.creds must be a real user
	// credentials file of its account.
	op := newReadmeOperator(t)
	nats := testnats.StartWith(t, &server.Options{TrustedOperators: []*jwt.OperatorClaims{op.claims}, AccountResolver: op.resolver, SystemAccount: op.system,
		JetStream: true, StoreDir: filepath.Join(srvFiles, "nats")})

	brokerURL := "tls://" + strings.TrimPrefix(strings.TrimPrefix(broker.ClientURL(), "nats://"), "tls://")
	subs := []*readmeSubstitution{
		{old: "/etc/choria/machines", new: w.path("etc/choria/machines"), why: "a system path: the machines directory of a Choria node, in the sandbox"},
		{old: "/srv/machines", new: w.path("srv/machines"), why: "a system path, in the sandbox"},
		{old: "/srv/web", new: w.path("srv/web"), why: "a system path, in the sandbox"},
		{old: "tls://broker.example.net:4222", new: brokerURL, why: "a remote host: a local NATS server with TLS, client certificates and JetStream"},
		{old: "nats://nats.example.net:4222", new: nats.ClientURL(), why: "a remote host: a local NATS server with JetStream and JWT authentication"},
		{old: "https://repo.example.net/", new: repo.URL + "/", why: "a remote host: a local HTTPS server the mms processes trust through SSL_CERT_FILE"},
	}
	// The embedded server's default port, 4222, may be taken by another package's test
	// running at the same time: the `mms agent` line with no --server gets --embedded-port 0
	// (a free port; mms put and get given --dir find it in DIR/.mms).
	embeddedPort := &readmeSubstitution{new: " --embedded-port 0", why: "the default port 4222 may be taken by a test running at the same time"}

	// What the README tells the user to make by hand, and what each line must do.
	var (
		archiveEntry string   // the entry `mms archive` printed
		agent        *process // the agent of /etc/choria/machines, with its embedded server
		nodeAgent    *process // the agent of /srv/machines, on the nats.example.net server
	)
	etcMachines, srvMachines, srvWeb := w.path("etc/choria/machines"), w.path("srv/machines"), w.path("srv/web")
	// /etc/choria/machines exists on every Choria node (Choria's packages make it).
	if err := os.MkdirAll(etcMachines, 0o755); err != nil {
		t.Fatal(err)
	}
	steps := map[string]*readmeStep{
		"mms keys --out signer": {after: func(t *testing.T, r result) {
			readmeMustExist(t, w.path("signer.key"), w.path("signer.pub"))
		}},
		"mms archive ./facts --source https://repo.example.net/facts-1.0.0.tar.gz --out facts-1.0.0.tar.gz": {
			before: func(t *testing.T) {
				// "a machine directory ... it must hold a machine.yaml that Choria's own
				// loader accepts, named like the archive"
				if err := os.MkdirAll(w.path("facts"), 0o755); err != nil {
					t.Fatal(err)
				}
				writeText(t, w.path("facts/machine.yaml"), choriaMachine("facts"))
			},
			after: func(t *testing.T, r result) {
				readmeMustExist(t, w.path("facts-1.0.0.tar.gz"), w.path("facts/SHA256SUMS"))
				var e printedEntry
				decodeStrict(t, r.stdout, &e)
				if e.Name != "facts" || e.Source != repo.URL+"/facts-1.0.0.tar.gz" || e.Checksum == "" || e.VerifyChecksum == "" {
					t.Fatalf("mms archive printed the entry %+v", e)
				}
				archiveEntry = strings.TrimSpace(r.stdout)
				// "Upload the archive to the source URL, list the entries in machines.json"
				data, err := os.ReadFile(w.path("facts-1.0.0.tar.gz"))
				if err != nil {
					t.Fatal(err)
				}
				writeText(t, filepath.Join(repoDir, "facts-1.0.0.tar.gz"), string(data))
				writeText(t, w.path("machines.json"), "[\n"+archiveEntry+"\n]\n")
			},
		},
		"mms pack machines.json signer.key > spec.json": {after: func(t *testing.T, r result) {
			readmeMustExist(t, w.path("spec.json"))
		}},
		"mms verify spec.json signer.pub": {after: func(t *testing.T, r result) {
			readmeSays(t, r.stdout, `Signature: verified by key `+readmePubKey(t, w.path("signer.pub")), `(?m)^\s+facts$`)
		}},
		"mms match machines.json --identity web1.example.net --facts facts.json": {
			// The node's facts, as the README's matcher example reads them.
			before: func(t *testing.T) { writeText(t, w.path("facts.json"), `{"location": {"dc": "lon"}}`+"\n") },
			after: func(t *testing.T, r result) {
				readmeSays(t, r.stdout, `Node "web1.example.net"`, `facts from facts.json`, `facts\s+matched`)
			},
		},
		"mms put spec.json --server tls://broker.example.net:4222 --tlscert me.pem --tlskey me.key --tlsca ca.pem --public-key signer.pub": {
			// "reaches a Choria broker with the operator's certificate"
			before: func(t *testing.T) {
				ca.issue(t, w.path("me.pem"), w.path("me.key"), x509.ExtKeyUsageClientAuth)
				writeText(t, w.path("ca.pem"), string(ca.pem))
			},
			after: func(t *testing.T, r result) {
				readmeSays(t, r.stdout, `Published MACHINES/machines revision 1: .*signature verified`)
			},
		},
		"mms archive ./facts --publish MACHINES_ARCHIVES --server tls://broker.example.net:4222 --tlscert me.pem --tlskey me.key --tlsca ca.pem": {
			after: func(t *testing.T, r result) {
				var e, first printedEntry
				decodeStrict(t, r.stdout, &e)
				decodeStrict(t, archiveEntry, &first)
				// the same machine, the same reproducible archive, now in the Object Store
				want := "obj://MACHINES_ARCHIVES/facts-" + first.Checksum[:16] + ".tar.gz"
				if e.Source != want || e.Checksum != first.Checksum || e.VerifyChecksum != first.VerifyChecksum {
					t.Fatalf("mms archive --publish printed %+v, want source %s and the checksums of %+v", e, want, first)
				}
				readmeSays(t, r.stderr, `Published `+regexp.QuoteMeta(want))
			},
		},
		"mms apply spec.json --dir /etc/choria/machines --public-key signer.pub --purge --dry-run": {
			after: func(t *testing.T, r result) {
				readmeSays(t, r.stdout, `DRY RUN: nothing was changed`, `(?m)^install\s+facts\b`)
				if _, err := os.Stat(filepath.Join(etcMachines, "facts")); err == nil {
					t.Errorf("the dry run installed facts")
				}
			},
		},
		"mms keys --out ops": {after: func(t *testing.T, r result) {
			readmeMustExist(t, w.path("ops.key"), w.path("ops.pub"))
		}},
		"mms agent --dir /etc/choria/machines --public-key ops.pub --purge": {
			background: true,
			started: func(t *testing.T, p *process) {
				agent = p
				// "starts an embedded NATS server with JetStream ... and prints its URL"
				readmeWait(t, p, "the agent prints its embedded server's URL", func() bool {
					return strings.Contains(p.stdout.String(), "Embedded NATS server listening on nats://127.0.0.1:")
				})
				readmeWait(t, p, "the agent says it starts", func() bool { return strings.Contains(p.stderr.String(), "mms agent starting") })
				readmeMustExist(t, filepath.Join(etcMachines, ".mms/nats-credentials.json"))
			},
		},
		"mms agent --dir /srv/machines --server nats://nats.example.net:4222 --creds node.creds --public-key ops.pub --purge": {
			background: true,
			// node.creds: the node's NATS user credentials, issued by the account.
			before: func(t *testing.T) {
				readmeWriteFile(t, w.path("node.creds"), op.userCreds(t, "node"), 0o600)
				// The README does not tell the user to make /srv/machines, but --dir must
				// be an existing directory (mms agent says "path ... does not exist"
				// otherwise): made here as the user would have to.
				if err := os.MkdirAll(srvMachines, 0o755); err != nil {
					t.Fatal(err)
				}
			},
			started: func(t *testing.T, p *process) {
				nodeAgent = p
				readmeWait(t, p, "the agent says it starts", func() bool { return strings.Contains(p.stderr.String(), "mms agent starting") })
				// It connects with the credentials: the server, which accepts no one
				// without them, has a client.
				readmeWait(t, p, "the agent connects with node.creds", func() bool { return nats.NumClients() > 0 })
				readmeWait(t, p, "the agent's node loop starts", func() bool { return strings.Contains(p.stderr.String(), "node loop starting") })
			},
		},
		"mms pack machines.json ops.key > spec.json": {},
		"mms put spec.json --public-key ops.pub --dir /etc/choria/machines": {
			after: func(t *testing.T, r result) {
				readmeSays(t, r.stdout, `Published MACHINES/machines revision 1: .*signature verified`)
				// "Every node applies it within about a second": the agent installs facts,
				// downloading it over HTTPS.
				readmeWait(t, agent, "the agent installs facts", func() bool { return readmeInstalled(t, etcMachines, "facts") })
			},
		},
		"mms get --public-key ops.pub --dir /etc/choria/machines": {after: func(t *testing.T, r result) {
			readmeSays(t, r.stdout, `Specification MACHINES/machines revision 1`, `Signature: verified by key `+readmePubKey(t, w.path("ops.pub")), `(?m)^\s+facts$`)
		}},
		// "It is a health check: it exits 0 when every managed machine is present and
		// verifies and the last reconcile succeeded"
		// "Every node ... publishes a small status ... when what it would say changes" (after
		// a random wait of up to a second): the fleet lines run once the agents' statuses
		// say what they installed.
		"mms status --fleet --dir /etc/choria/machines": {before: func(t *testing.T) {
			w.eventuallyExits0(t, "mms status --fleet --json --dir "+w.path("etc/choria/machines"))
		}},
		"mms status --fleet --context lab --json": {before: func(t *testing.T) {
			w.eventuallyExits0(t, "mms status --fleet --context lab --json")
		}},
		// "1 when not or when no node reports (... none picked by the filters ...)": the
		// sandbox's nodes are named after this host, not web.
		"mms status --fleet --context lab --identity '^web' --state failed": {exit: 1, after: func(t *testing.T, r result) {
			readmeSays(t, r.stdout, `^0 nodes in MACHINES_STATUS`, `No node reports`)
		}},
		"mms status --dir /etc/choria/machines": {after: func(t *testing.T, r result) {
			readmeSays(t, r.stdout, `Managed machines: 1`, `(?m)^\s+facts$`, `on disk: present, verified`)
		}},
		"mms put spec.json --public-key ops.pub --context lab": {
			// The NATS context "lab", as `nats context save` writes it: here the
			// nats.example.net server, with the operator's own user credentials, so that
			// the second agent receives what this put publishes.
			before: func(t *testing.T) {
				dir := w.path(".config/nats/context")
				if err := os.MkdirAll(dir, 0o700); err != nil {
					t.Fatal(err)
				}
				creds := filepath.Join(dir, "lab.creds")
				readmeWriteFile(t, creds, op.userCreds(t, "ops"), 0o600)
				b, err := json.Marshal(map[string]string{"url": nats.ClientURL(), "creds": creds})
				if err != nil {
					t.Fatal(err)
				}
				writeText(t, filepath.Join(dir, "lab.json"), string(b))
			},
			after: func(t *testing.T, r result) {
				readmeSays(t, r.stdout, `Published MACHINES/machines revision 1: .*signature verified`)
				// The agent of /srv/machines keeps it in line with that server's bucket.
				readmeWait(t, nodeAgent, "the agent of /srv/machines installs facts", func() bool { return readmeInstalled(t, srvMachines, "facts") })
			},
		},
		// A keyring: two offline roots, the web team's signer.
		"mms keys --out root1":    {after: func(t *testing.T, r result) { readmeMustExist(t, w.path("root1.key"), w.path("root1.pub")) }},
		"mms keys --out root2":    {after: func(t *testing.T, r result) { readmeMustExist(t, w.path("root2.key"), w.path("root2.pub")) }},
		"mms keys --out web-team": {after: func(t *testing.T, r result) { readmeMustExist(t, w.path("web-team.key"), w.path("web-team.pub")) }},
		"mms keyring init --root root1.pub --root root2.pub --threshold 2 --out keyring.json": {after: func(t *testing.T, r result) {
			readmeSays(t, r.stdout, `Wrote keyring.json: keyring version 1, unsigned, 2 root key\(s\) of which 2 must sign, spec threshold 1`)
		}},
		"mms keyring add-signer keyring.json --name web-team --key web-team.pub --machines 'web-*'": {after: func(t *testing.T, r result) {
			readmeSays(t, r.stdout, `Added signer web-team \(web-\*\), key `+readmePubKey(t, w.path("web-team.pub")))
		}},
		"mms keyring sign keyring.json root1.key": {after: func(t *testing.T, r result) {
			readmeSays(t, r.stdout, `It is root 1 of 2; 2 of 2 signatures needed, now 1`)
		}},
		"mms keyring sign keyring.json root2.key": {after: func(t *testing.T, r result) {
			readmeSays(t, r.stdout, `It is root 2 of 2; 2 of 2 signatures needed, now 2`)
		}},
		"mms keyring verify keyring.json --root root1.pub --root root2.pub --threshold 2": {after: func(t *testing.T, r result) {
			readmeSays(t, r.stdout, `Keyring version 1 \(keyring.json\): trusted`, `web-team `+readmePubKey(t, w.path("web-team.pub"))+` \(web-\*\) expires`, `Trusted: keyring version 1 \(from the roots given\)`)
		}},
		"mms keyring put keyring.json --key web --context lab": {after: func(t *testing.T, r result) {
			readmeSays(t, r.stdout, `Published MACHINES/web.keyring.1 revision \d+: keyring version 1, 1 signer\(s\)`)
		}},
		"mms archive ./web-facts --source https://repo.example.net/web-facts-1.0.0.tar.gz --out web-facts-1.0.0.tar.gz": {
			// "a machine directory ./web-facts, as above"
			before: func(t *testing.T) {
				if err := os.MkdirAll(w.path("web-facts"), 0o755); err != nil {
					t.Fatal(err)
				}
				writeText(t, w.path("web-facts/machine.yaml"), choriaMachine("web-facts"))
			},
			after: func(t *testing.T, r result) {
				var e printedEntry
				decodeStrict(t, r.stdout, &e)
				if e.Name != "web-facts" || e.Source != repo.URL+"/web-facts-1.0.0.tar.gz" {
					t.Fatalf("mms archive printed the entry %+v", e)
				}
				// Uploaded to its source; "lists the entries (web-… names) in web.json"
				data, err := os.ReadFile(w.path("web-facts-1.0.0.tar.gz"))
				if err != nil {
					t.Fatal(err)
				}
				writeText(t, filepath.Join(repoDir, "web-facts-1.0.0.tar.gz"), string(data))
				writeText(t, w.path("web.json"), "[\n"+strings.TrimSpace(r.stdout)+"\n]\n")
			},
		},
		"mms pack web.json web-team.key > web.spec.json": {after: func(t *testing.T, r result) {
			readmeMustExist(t, w.path("web.spec.json"))
		}},
		"mms verify web.spec.json --keyring keyring.json --keyring-root root1.pub --keyring-root root2.pub --keyring-threshold 2": {after: func(t *testing.T, r result) {
			readmeSays(t, r.stdout, `Signature: verified by keyring signers web-team \(1 needed\)`, `Keyring: version 1 \(trusted from the roots given\), spec threshold 1`, `scope: within the scope of web-team`)
		}},
		"mms put web.spec.json --key web --keyring-root root1.pub --keyring-root root2.pub --keyring-threshold 2 --context lab": {after: func(t *testing.T, r result) {
			readmeSays(t, r.stdout, `Published MACHINES/web revision \d+: .*signature verified \(keyring version 1: web-team\), 1 entries`)
		}},
		"mms agent --dir /srv/web --server nats://nats.example.net:4222 --creds node.creds --key web --keyring-root root1.pub --keyring-root root2.pub --keyring-threshold 2 --purge": {
			background: true,
			// "mkdir -p /srv/web"
			before: func(t *testing.T) {
				if err := os.MkdirAll(srvWeb, 0o755); err != nil {
					t.Fatal(err)
				}
			},
			started: func(t *testing.T, p *process) {
				// It walks the keyring beside its key and installs what the web team signed.
				readmeWait(t, p, "the agent of /srv/web installs web-facts", func() bool { return readmeInstalled(t, srvWeb, "web-facts") })
				readmeMustExist(t, filepath.Join(srvWeb, ".mms/keyring.json"))
			},
		},
	}

	seen := map[string]bool{}
	ran, exempted := 0, 0
	for _, line := range lines {
		seen[line] = true
		if by, ok := readmeExempt[line]; ok {
			t.Logf("exempt: %s (run by %s)", line, by)
			exempted++
			continue
		}
		run := line
		for _, s := range subs {
			if strings.Contains(run, s.old) {
				run = strings.ReplaceAll(run, s.old, s.new)
				s.used++
			}
		}
		if strings.HasPrefix(line, "mms agent ") && !strings.Contains(line, "--server") {
			run += embeddedPort.new
			embeddedPort.used++
		}
		step := steps[line]
		if step == nil {
			step = &readmeStep{}
		}
		if step.before != nil {
			step.before(t)
		}
		if step.background || strings.HasPrefix(line, "mms agent ") {
			if !step.background {
				t.Fatalf("README line %q runs until stopped: give it a step with background and what it must do", line)
			}
			t0 := time.Now()
			p := w.start(t, run)
			if step.started != nil {
				step.started(t, p)
			}
			t.Logf("started: %s (%s)", line, time.Since(t0).Round(time.Millisecond))
			ran++
			continue
		}
		t0 := time.Now()
		r := w.run(t, run)
		if r.code != step.exit {
			t.Fatalf("README line\n\t%s\nran as\n\t%s\nexited %d, want %d\nstdout:\n%s\nstderr:\n%s", line, run, r.code, step.exit, r.stdout, r.stderr)
		}
		if step.after != nil {
			step.after(t, r)
		}
		t.Logf("ran: %s (%s)\n%s%s", line, time.Since(t0).Round(time.Millisecond), r.stdout, r.stderr)
		ran++
	}

	for line, by := range readmeExempt {
		if !seen[line] {
			t.Errorf("the exemption of %q (run by %s) names a line that is no longer in the README: remove it", line, by)
		}
	}
	for line := range steps {
		if !seen[line] {
			t.Errorf("this test prepares or checks the README line %q, which is no longer in the README", line)
		}
	}
	for _, s := range append(subs, embeddedPort) {
		if s.used == 0 {
			t.Errorf("the substitution %q -> %q (%s) rewrote no README line: remove it", s.old, s.new, s.why)
		}
	}
	if ran+exempted != len(lines) {
		t.Errorf("%d README mms lines, %d ran and %d exempted", len(lines), ran, exempted)
	}
	t.Logf("%d README lines ran, %d exempted, in %s", ran, exempted, time.Since(began).Round(time.Millisecond))
}

// readmeSays fails the test unless out matches every regular expression.
func readmeSays(t *testing.T, out string, res ...string) {
	t.Helper()
	for _, re := range res {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("the output does not match %q:\n%s", re, out)
		}
	}
}

// readmePubKey returns the hex key a .pub file written by mms keys holds.
func readmePubKey(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return regexp.QuoteMeta(strings.TrimSpace(string(data)))
}

// readmeInstalled tells whether the machine name is installed in dir as its archive holds it
// and the last reconcile, as mms status reads it, installed it.
func readmeInstalled(t *testing.T, dir, name string) bool {
	t.Helper()
	if !fileSays(filepath.Join(dir, name, "machine.yaml"), choriaMachine(name)) {
		return false
	}
	lr, ok, err := nodeloop.ReadLastReport(dir)
	if err != nil {
		t.Fatal(err)
	}
	return ok && len(lr.Results) == 1 && lr.Results[0].Name == name && lr.Results[0].Action == machines.ActionInstall && !lr.Results[0].Failed
}

// readmeWait waits for cond while p runs, failing at once if p exits.
func readmeWait(t *testing.T, p *process, what string, cond func() bool) {
	t.Helper()
	exited := false
	testwait.Eventually(t, waitLong, what, func() bool {
		select {
		case <-p.done:
			exited = true
			return true
		default:
		}
		return cond()
	})
	if exited && !cond() {
		t.Fatalf("%s: mms exited (%v) first\nstdout:\n%s\nstderr:\n%s", what, p.err, p.stdout, p.stderr)
	}
}

// readmeMustExist fails the test unless every path exists.
func readmeMustExist(t *testing.T, paths ...string) {
	t.Helper()
	for _, p := range paths {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("README line made no %s: %v", p, err)
		}
	}
}

func readmeWriteFile(t *testing.T, path string, data []byte, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, data, mode); err != nil {
		t.Fatal(err)
	}
}

// readmeOperator is a NATS operator with one account that may use JetStream and a system
// account, for a server in operator mode.
type readmeOperator struct {
	claims   *jwt.OperatorClaims
	resolver *server.MemAccResolver
	system   string
	account  nkeys.KeyPair
}

func newReadmeOperator(t *testing.T) readmeOperator {
	t.Helper()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	okp, err := nkeys.CreateOperator()
	must(err)
	opub, err := okp.PublicKey()
	must(err)
	o := readmeOperator{claims: jwt.NewOperatorClaims(opub), resolver: &server.MemAccResolver{}}
	o.claims.Name = "lab"
	account := func(name string, js bool) (nkeys.KeyPair, string) {
		kp, err := nkeys.CreateAccount()
		must(err)
		pub, err := kp.PublicKey()
		must(err)
		ac := jwt.NewAccountClaims(pub)
		ac.Name = name
		if js {
			ac.Limits.JetStreamLimits = jwt.JetStreamLimits{MemoryStorage: -1, DiskStorage: -1, Streams: -1, Consumer: -1}
		}
		token, err := ac.Encode(okp)
		must(err)
		must(o.resolver.Store(pub, token))
		return kp, pub
	}
	_, o.system = account("SYS", false)
	o.claims.SystemAccount = o.system
	o.account, _ = account("MACHINES", true)
	return o
}

// userCreds returns a credentials file of a new user of the account, as `nsc generate creds`
// writes it.
func (o readmeOperator) userCreds(t *testing.T, name string) []byte {
	t.Helper()
	ukp, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	upub, err := ukp.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	uc := jwt.NewUserClaims(upub)
	uc.Name = name
	token, err := uc.Encode(o.account)
	if err != nil {
		t.Fatal(err)
	}
	seed, err := ukp.Seed()
	if err != nil {
		t.Fatal(err)
	}
	creds, err := jwt.FormatUserConfig(token, seed)
	if err != nil {
		t.Fatal(err)
	}
	return creds
}

// eventuallyExits0 waits until line, run in the sandbox, exits 0.
func (w *readmeWalk) eventuallyExits0(t *testing.T, line string) {
	t.Helper()
	var last result
	testwait.Eventually(t, waitLong, line+" to exit 0", func() bool {
		last = w.run(t, line)
		return last.code == 0
	})
}

package e2e

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// clientIdentity is the operator's certificate name; Choria's default allow list admits names
// ending in .mcollective.
const clientIdentity = "e2e.mcollective"

// brokerStartTimeout bounds waiting for the broker to accept connections.
const brokerStartTimeout = 60 * time.Second

// cluster is a running choria broker with JetStream, its nodes, and an operator's client
// configuration.
type cluster struct {
	t          *testing.T
	dir        string
	pki        *pki
	port       int
	broker     *proc
	brokerConf string
	brokerLog  string
	clientConf string
	client     identityFiles
	signingKey string
	nodes      map[string]*node
}

// node is one running `choria server`.
type node struct {
	identity string
	dir      string
	machines string
	conf     string
	log      string
	proc     *proc
}

// nodeSpec says which node to start: its identity and facts.
type nodeSpec struct {
	identity string
	facts    string
}

// newCluster makes the certificates, starts the broker and the nodes, and writes the client
// configuration. signingKey is the public key the nodes trust (plugin.choria.machine.signing_key).
func newCluster(t *testing.T, signingKey string, nodes ...nodeSpec) *cluster {
	t.Helper()
	dir := t.TempDir()
	p, err := newPKI(mkdir(t, dir, "pki"))
	if err != nil {
		t.Fatal(err)
	}
	c := &cluster{t: t, dir: dir, pki: p, port: freePort(t), signingKey: signingKey, nodes: map[string]*node{}}

	c.brokerConf = c.writeBrokerConfig()
	c.startBroker()

	client, err := p.issue(clientIdentity)
	if err != nil {
		t.Fatal(err)
	}
	c.client = client
	c.clientConf = filepath.Join(dir, "client.conf")
	writeConfig(t, c.clientConf, c.securityLines(client), []string{
		"plugin.choria.middleware_hosts = " + c.url(),
		"loglevel = warn",
	})

	for _, ns := range nodes {
		c.startNode(ns)
	}
	return c
}

// url is the broker's client URL.
func (c *cluster) url() string {
	return fmt.Sprintf("nats://127.0.0.1:%d", c.port)
}

// securityLines configure Choria's file security provider for one identity.
func (c *cluster) securityLines(id identityFiles) []string {
	return []string{
		"identity = " + id.name,
		"plugin.security.provider = file",
		"plugin.security.file.certificate = " + id.cert,
		"plugin.security.file.key = " + id.key,
		"plugin.security.file.ca = " + c.pki.caFile,
		"plugin.choria.use_srv = false",
		"collectives = mcollective",
		"main_collective = mcollective",
	}
}

func (c *cluster) writeBrokerConfig() string {
	t := c.t
	id, err := c.pki.issue("broker.e2e")
	if err != nil {
		t.Fatal(err)
	}
	c.brokerLog = filepath.Join(c.dir, "broker.log")
	conf := filepath.Join(c.dir, "broker.conf")
	writeConfig(t, conf, c.securityLines(id), []string{
		"logfile = " + c.brokerLog,
		"loglevel = info",
		"plugin.choria.broker_network = true",
		"plugin.choria.network.listen_address = 127.0.0.1",
		fmt.Sprintf("plugin.choria.network.client_port = %d", c.port),
		"plugin.choria.network.stream.store = " + mkdir(t, c.dir, "jetstream"),
		"plugin.choria.stats_port = 0",
	})
	return conf
}

// startBroker starts `choria broker run` and waits until it accepts connections.
func (c *cluster) startBroker() {
	t := c.t
	t.Helper()
	c.broker = startProc(t, "broker", c.brokerLog+".out", nil, choriaBin, "broker", "run", "--config", c.brokerConf)
	waitFor(t, brokerStartTimeout, "the broker to listen on "+c.url(), func() (bool, string) {
		if !c.broker.running() {
			t.Fatalf("the broker exited: %v\n%s", c.broker.err, tail(c.brokerLog+".out", 40)+tail(c.brokerLog, 40))
		}
		conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", c.port), time.Second)
		if err != nil {
			return false, err.Error()
		}
		conn.Close()
		return true, ""
	})
}

// restartBroker stops the broker and starts it again on the same port and JetStream store.
func (c *cluster) restartBroker() {
	c.t.Helper()
	if err := c.broker.stop(); err != nil {
		c.t.Fatalf("stop the broker: %v", err)
	}
	c.startBroker()
}

// startNode starts a `choria server` with its own identity, facts and machines directory.
func (c *cluster) startNode(ns nodeSpec) *node {
	t := c.t
	t.Helper()
	n, lines := c.prepareNode(t, ns.identity, ns.facts)
	writeConfig(t, n.conf, lines)
	n.proc = startProc(t, ns.identity, n.log+".out", nil, choriaBin, "server", "run", "--config", n.conf)
	c.nodes[ns.identity] = n
	return n
}

// prepareNode issues identity's certificate, makes its directories and facts file, and returns
// the node and its configuration lines, for a `choria server` of this cluster.
func (c *cluster) prepareNode(t *testing.T, identity, facts string) (*node, []string) {
	t.Helper()
	id, err := c.pki.issue(identity)
	if err != nil {
		t.Fatal(err)
	}
	dir := mkdir(t, c.dir, identity)
	n := &node{
		identity: identity,
		dir:      dir,
		machines: mkdir(t, dir, "machines"),
		conf:     filepath.Join(dir, "server.conf"),
		log:      filepath.Join(dir, "choria.log"),
	}
	factsFile := filepath.Join(dir, "facts.json")
	if err := os.WriteFile(factsFile, []byte(facts), 0o600); err != nil {
		t.Fatal(err)
	}
	return n, append(c.securityLines(id), []string{
		"logfile = " + n.log,
		"loglevel = debug",
		"plugin.choria.middleware_hosts = " + c.url(),
		"plugin.choria.machine.store = " + n.machines,
		"plugin.choria.machine.signing_key = " + c.signingKey,
		"plugin.yaml = " + factsFile,
		"classesfile = " + filepath.Join(dir, "classes.txt"),
		"rpcauthorization = false",
		"plugin.choria.stats_port = 0",
	}...)
}

// writeConfig writes a Choria configuration file.
func writeConfig(t *testing.T, path string, parts ...[]string) {
	t.Helper()
	var b strings.Builder
	for _, lines := range parts {
		for _, l := range lines {
			b.WriteString(l + "\n")
		}
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
}

// freePort finds a loopback TCP port nobody listens on.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func mkdir(t *testing.T, parts ...string) string {
	t.Helper()
	dir := filepath.Join(parts...)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	return dir
}

// tail returns the last n lines of a file, for failure messages.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(%s: %v)\n", path, err)
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "--- " + path + "\n" + strings.Join(lines, "\n") + "\n"
}

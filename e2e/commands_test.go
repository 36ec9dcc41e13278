package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// commandTimeout bounds one CLI invocation.
const commandTimeout = 60 * time.Second

// runCmd runs bin with args and stdin, returning standard output; the error carries standard
// error.
func runCmd(stdin []byte, bin string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = baseEnv()
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var out, errb bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &errb
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("%s %s: %w\n%s%s", bin, strings.Join(args, " "), err, errb.String(), out.String())
	}
	return out.String(), nil
}

// choria runs the operator's choria CLI (go-choria v0.29.4's stock build) with the client
// configuration.
func (c *cluster) choria(stdin []byte, args ...string) (string, error) {
	return runCmd(stdin, operatorBin, append(args, "--config", c.clientConf)...)
}

// mustChoria is choria that fails the test on error.
func (c *cluster) mustChoria(stdin []byte, args ...string) string {
	c.t.Helper()
	out, err := c.choria(stdin, args...)
	if err != nil {
		c.t.Fatal(err)
	}
	return out
}

// mms runs the mms CLI.
func mms(t *testing.T, stdin []byte, args ...string) string {
	t.Helper()
	out, err := runCmd(stdin, mmsBin, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

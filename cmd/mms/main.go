// Command mms is the operator and node CLI of mms: it makes keys, builds archives, packs,
// signs, verifies and publishes specifications, and applies them to a machines directory.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/choria-io/fisk"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "development"

// exitError carries a process exit code out of a command action: 1 for a refusal or failure,
// 2 for a usage error. Any other error exits 1.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// usageError marks err as a usage error (exit code 2).
func usageError(format string, a ...any) error {
	return &exitError{code: 2, err: fmt.Errorf(format, a...)}
}

// commands holds the configure functions of every command; each command's file adds its own
// from init, so that commands live in files of their own.
var commands []func(app *fisk.Application)

func registerCommand(configure func(app *fisk.Application)) {
	commands = append(commands, configure)
}

func newApp() *fisk.Application {
	app := fisk.New("mms", "Manages Choria Autonomous Agents (machines) from one signed specification")
	app.Author("the mms developers")
	app.HelpFlag.Short('h')
	for _, configure := range commands {
		configure(app)
	}
	app.Command("version", "Prints the version of mms, its VCS revision and the go-choria release it is built with").Action(action(func() error {
		fmt.Println(versionText())
		return nil
	}))
	return app
}

func main() {
	os.Exit(run(os.Args[1:]))
}

// run parses args and runs the chosen command, returning the process exit code.
func run(args []string) int {
	if isVersionFlag(args) {
		fmt.Println(versionText())
		return 0
	}
	_, err := newApp().Parse(args)
	if err == nil {
		return 0
	}
	var ee *exitError
	if errors.As(err, &ee) {
		fmt.Fprintf(os.Stderr, "mms: %v\n", err)
		return ee.code
	}
	// Only fisk's own parsing errors reach here unwrapped: the user's words were off.
	fmt.Fprintf(os.Stderr, "mms: %v (see mms --help)\n", err)
	return 2
}

// action adapts a command's run function for fisk: every error it returns is a failure
// (exit 1) unless it already carries a code, which tells them from fisk's usage errors.
func action(run func() error) fisk.Action {
	return func(*fisk.ParseContext) error {
		err := run()
		var ee *exitError
		if err == nil || errors.As(err, &ee) {
			return err
		}
		return &exitError{code: 1, err: err}
	}
}

package choriacli

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/choria-io/fisk"
	"github.com/choria-io/go-choria/build"
	"github.com/choria-io/go-choria/choria"
	"github.com/choria-io/go-choria/config"
	log "github.com/sirupsen/logrus"
)

// command is what every subcommand does once its flags are parsed: run until ctx ends, with
// the running framework and the wait group the server or broker add their goroutines to.
type command interface {
	run(ctx context.Context, wg *sync.WaitGroup) error
}

// cli holds the parsed global flags.
type cli struct {
	debug bool
	out   io.Writer
	bi    *build.Info
}

// Main registers plugins, parses args (without the program name) and runs the command they
// name. It returns the process exit code: 0 on a clean stop, 1 when the command failed, and
// fisk's usage code for a command line it cannot parse.
func Main(args []string, plugins ...[]Plugin) int {
	fixVersion()
	if err := Register(plugins...); err != nil {
		fmt.Fprintf(os.Stderr, "choria: %v\n", err)
		return 1
	}

	c := &cli{out: os.Stdout, bi: &build.Info{}}
	app := fisk.New("choria", "Choria Orchestration System: the node's server and broker, with the mms plugins.\n\nOperator commands (kv, req, machine watch, ...) come from your own choria CLI or from mms.")
	app.Version(versionLine(c.bi))
	app.Flag("debug", "Enable debug logging").UnNegatableBoolVar(&c.debug)

	var cmds = map[string]command{}
	for name, setup := range map[string]func(*fisk.Application) command{
		"server run": c.serverCommand,
		"broker run": c.brokerCommand,
		"buildinfo":  c.buildinfoCommand,
	} {
		cmds[name] = setup(app)
	}

	selected, err := app.Parse(args)
	if err != nil {
		app.FatalUsage("%s", err)
	}
	cmd, ok := cmds[selected]
	if !ok {
		fmt.Fprintf(os.Stderr, "choria: unknown command %q\n", selected)
		return 1
	}
	if c.debug {
		log.SetOutput(os.Stdout)
		log.SetLevel(log.DebugLevel)
		log.Debug("Logging at debug level due to CLI override")
	}

	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	go watchSignals(ctx, stop)

	wg := &sync.WaitGroup{}
	err = cmd.run(ctx, wg)
	if err != nil {
		stop()
	}
	wg.Wait()
	if err != nil {
		log.Errorf("Could not run Choria: %s", err)
		return 1
	}
	return 0
}

// framework loads the system configuration of a server or broker from file, applies the
// build's settings, and creates the Choria framework over it, as go-choria's commands do.
func (c *cli) framework(file string) (*choria.Framework, error) {
	if file == "" {
		return nil, fmt.Errorf("a configuration file is required: --config FILE")
	}
	cfg, err := config.NewSystemConfig(file, true)
	if err != nil {
		return nil, fmt.Errorf("could not parse configuration %s: %w", file, err)
	}
	cfg.ApplyBuildSettings(c.bi)
	if c.debug {
		cfg.LogLevel = "debug"
	}
	fw, err := choria.NewWithConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("could not initialize Choria: %w", err)
	}
	return fw, nil
}

// writePID writes the process id to file, when one is given.
func writePID(file string) error {
	if file == "" {
		return nil
	}
	if err := os.WriteFile(file, []byte(fmt.Sprintf("%d", os.Getpid())), 0o644); err != nil {
		return fmt.Errorf("could not write PID file %s: %w", file, err)
	}
	return nil
}

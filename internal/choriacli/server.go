package choriacli

import (
	"context"
	"fmt"
	"sync"

	"github.com/choria-io/fisk"
	"github.com/choria-io/go-choria/server"
	log "github.com/sirupsen/logrus"
)

// serverCommand is `choria server run`: a Choria server (agents, registration and the
// autonomous agent host that runs the machines) until it is signalled to stop.
type serverCommand struct {
	c           *cli
	config      string
	pidFile     string
	serviceHost bool
}

func (c *cli) serverCommand(app *fisk.Application) command {
	s := &serverCommand{c: c}
	srv := app.Command("server", "Choria Server")
	run := srv.Command("run", "Runs a Choria Server").Default()
	run.Flag("config", "Config file to use").PlaceHolder("FILE").StringVar(&s.config)
	run.Flag("pid", "Write running PID to a file").PlaceHolder("FILE").StringVar(&s.pidFile)
	run.Flag("service-host", "Runs as a Service Agent host").UnNegatableBoolVar(&s.serviceHost)
	return s
}

func (s *serverCommand) run(ctx context.Context, wg *sync.WaitGroup) error {
	fw, err := s.c.framework(s.config)
	if err != nil {
		return err
	}
	if len(s.c.bi.AgentProviders()) == 0 {
		return fmt.Errorf("invalid Choria Server build, no agent providers present")
	}
	fw.ConfigureProvisioning(ctx)

	instance, err := server.NewInstance(fw)
	if err != nil {
		return fmt.Errorf("could not create Choria Server instance: %w", err)
	}
	log.Infof("Choria Server version %s starting with config %s", s.c.bi.Version(), fw.Config.ConfigFile)
	if err := writePID(s.pidFile); err != nil {
		return err
	}

	wg.Add(1)
	if s.serviceHost {
		return instance.RunServiceHost(ctx, wg)
	}
	return instance.Run(ctx, wg)
}

package choriacli

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/choria-io/fisk"
	"github.com/choria-io/go-choria/broker/adapter"
	"github.com/choria-io/go-choria/broker/federation"
	"github.com/choria-io/go-choria/broker/network"
	"github.com/choria-io/go-choria/choria"
	"github.com/choria-io/go-choria/config"
	"github.com/choria-io/go-choria/statistics"
	log "github.com/sirupsen/logrus"
)

// brokerCommand is `choria broker run`: the Choria network broker (an embedded NATS server
// with JetStream when configured), the federation broker and the protocol adapters, each when
// its configuration enables it.
type brokerCommand struct {
	c       *cli
	config  string
	pidFile string
}

func (c *cli) brokerCommand(app *fisk.Application) command {
	b := &brokerCommand{c: c}
	broker := app.Command("broker", "Choria Network Broker")
	run := broker.Command("run", "Runs a Choria Network Broker instance")
	run.Flag("config", "Config file to use").PlaceHolder("FILE").StringVar(&b.config)
	run.Flag("pid", "Write running PID to a file").PlaceHolder("FILE").StringVar(&b.pidFile)
	return b
}

// brokerStartWait bounds how long the statistics endpoint waits for the network broker to
// start before it serves without the broker's handler.
const brokerStartWait = 30 * time.Second

func (b *brokerCommand) run(ctx context.Context, wg *sync.WaitGroup) error {
	fw, err := b.c.framework(b.config)
	if err != nil {
		return err
	}
	cfg := fw.Config
	cfg.SoftShutdownTimeout = cfg.Choria.NetworkSoftShutdownTimeout
	if !cfg.Choria.BrokerNetwork && !cfg.Choria.BrokerFederation && len(cfg.Choria.BrokerAdapters) == 0 {
		return fmt.Errorf("all broker features are disabled in %s", cfg.ConfigFile)
	}
	log.Infof("Choria Broker version %s starting with config %s", b.c.bi.Version(), cfg.ConfigFile)
	if err := writePID(b.pidFile); err != nil {
		return err
	}

	var srv *network.Server
	if cfg.Choria.BrokerNetwork {
		log.Info("Starting Network Broker")
		srv, err = network.NewServer(fw, b.c.bi, b.c.debug)
		if err != nil {
			return fmt.Errorf("could not set up Choria Network Broker: %w", err)
		}
		wg.Add(1)
		go srv.Start(ctx, wg)
	}

	if cfg.Choria.BrokerFederation {
		log.Infof("Starting Federation Broker on cluster %s", cfg.Choria.FederationCluster)
		fed, err := federation.NewFederationBroker(cfg.Choria.FederationCluster, fw)
		if err != nil {
			return fmt.Errorf("could not set up Choria Federation Broker: %w", err)
		}
		wg.Add(1)
		go fed.Start(ctx, wg)
	}

	if len(cfg.Choria.BrokerAdapters) > 0 {
		log.Info("Starting Protocol Adapters")
		wg.Add(1)
		go runAdapters(ctx, wg, cfg.ConfigFile, srv)
	}

	statistics.Start(fw, statsHandler(ctx, srv))
	return nil
}

// statsHandler waits for the network broker to start and returns its HTTP handler, which the
// statistics endpoint serves beside Choria's own; nil without a network broker.
func statsHandler(ctx context.Context, srv *network.Server) http.Handler {
	if srv == nil {
		return nil
	}
	deadline := time.NewTimer(brokerStartWait)
	defer deadline.Stop()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for !srv.Started() {
		select {
		case <-ctx.Done():
			return nil
		case <-deadline.C:
			log.Warnf("The network broker did not start within %v; statistics are served without it", brokerStartWait)
			return nil
		case <-tick.C:
		}
	}
	return srv.HTTPHandler()
}

// runAdapters runs the protocol adapters with a framework of their own, connected in process
// to the network broker when one runs here, as go-choria's broker does.
func runAdapters(ctx context.Context, wg *sync.WaitGroup, file string, srv *network.Server) {
	defer wg.Done()

	cfg, err := config.NewSystemConfig(file, true)
	if err != nil {
		log.Errorf("Failed to configure Protocol Adapters: %v", err)
		return
	}
	fw, err := choria.NewWithConfig(cfg)
	if err != nil {
		log.Errorf("Failed to run Protocol Adapters: %v", err)
		return
	}
	if srv != nil {
		fw.SetInProcessConnProvider(srv)
	}
	if err := adapter.RunAdapters(ctx, fw, wg); err != nil {
		log.Errorf("Failed to run Protocol Adapters: %s", err)
	}
}

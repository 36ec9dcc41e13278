package choriacli

import (
	"context"
	"os"
	"os/signal"
	"syscall"
	"time"

	log "github.com/sirupsen/logrus"
)

// shutdownGrace is how long a stop may take after SIGINT or SIGTERM before the process exits
// anyway, as go-choria's commands do by default.
const shutdownGrace = 10 * time.Second

// watchSignals cancels the run (through stop) on SIGINT or SIGTERM, and exits the process if
// the shutdown has not finished within shutdownGrace.
func watchSignals(ctx context.Context, stop context.CancelFunc) {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)

	select {
	case sig := <-sigs:
		log.Infof("Shutting down on %s", sig)
		stop()
		time.AfterFunc(shutdownGrace, func() {
			log.Errorf("Forced shutdown triggered after %v", shutdownGrace)
			os.Exit(1)
		})
	case <-ctx.Done():
	}
}

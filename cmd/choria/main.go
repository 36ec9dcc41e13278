package main

import (
	"os"

	"github.com/choria-io/go-choria/cmd"
	log "github.com/sirupsen/logrus"
)

func main() {
	if err := cmd.ParseCLI(); err != nil {
		log.Errorf("Could not configure Choria: %s", err)
		os.Exit(1)
	}

	if err := cmd.Run(); err != nil {
		log.Errorf("Could not run Choria: %s", err)
		os.Exit(1)
	}
}

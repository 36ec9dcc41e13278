package manager

import (
	_ "embed"
	"fmt"

	"github.com/choria-io/go-choria/aagent/machine"
	"github.com/choria-io/go-choria/aagent/plugin"
	"github.com/ghodss/yaml"
)

// Name is the autonomous agent's name, as `choria machine` commands know it.
const Name = "machines_manager"

//go:embed machine.yaml
var definition []byte

// ChoriaPlugin returns the machine plugin to register with go-choria's plugin.Register, or to
// list in packager/user_plugins.yaml.
func ChoriaPlugin() *plugin.MachinePlugin {
	m := &machine.Machine{}
	if err := yaml.Unmarshal(definition, m); err != nil {
		panic(fmt.Sprintf("%s: embedded machine.yaml: %v", Name, err))
	}
	return plugin.NewMachinePlugin(Name, m)
}

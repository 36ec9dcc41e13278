package machines

import (
	"io"
	"os"
	"path/filepath"

	"gopkg.in/yaml.v3"
)

// maxMachineYAML bounds what MachineVersion reads of a machine.yaml.
const maxMachineYAML = 1 << 20

// MachineVersion returns the version the machine.yaml of the machine directory dir/name
// declares, "" when it is missing, unreadable or declares none. It is for showing (mms status,
// fleet status), never for deciding.
func MachineVersion(dir, name string) string {
	f, err := os.Open(filepath.Join(dir, name, "machine.yaml"))
	if err != nil {
		return ""
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxMachineYAML))
	if err != nil {
		return ""
	}
	var def struct {
		Version string `yaml:"version"`
	}
	if err := yaml.Unmarshal(data, &def); err != nil {
		return ""
	}
	return def.Version
}

package choriacli

import (
	"context"
	"fmt"
	"github.com/mms-io/mms/internal/buildinfo"
	"io"
	"runtime"
	"runtime/debug"
	"sort"
	"strings"
	"sync"

	"github.com/choria-io/fisk"
	"github.com/choria-io/go-choria/build"
	"github.com/choria-io/go-choria/protocol"
	gnatsd "github.com/nats-io/nats-server/v2/server"
)

// goChoriaModule is the module whose release this binary is built on.
const goChoriaModule = "github.com/choria-io/go-choria"

// buildinfoCommand is `choria buildinfo`: the release of go-choria this binary is built on,
// its build settings and every plugin it registered.
type buildinfoCommand struct {
	c            *cli
	dependencies bool
}

func (c *cli) buildinfoCommand(app *fisk.Application) command {
	b := &buildinfoCommand{c: c}
	cmd := app.Command("buildinfo", "Build Settings and Configuration")
	cmd.Flag("dependencies", "Show dependencies used to build the binary").Short('D').UnNegatableBoolVar(&b.dependencies)
	return b
}

func (b *buildinfoCommand) run(context.Context, *sync.WaitGroup) error {
	writeBuildInfo(b.c.out, b.c.bi, b.dependencies)
	return nil
}

// versionLine is what --version prints.
func versionLine(bi *build.Info) string {
	return fmt.Sprintf("%s (go-choria %s, %s)", bi.Version(), buildinfo.ModuleVersion(goChoriaModule), mainModule())
}

// mainModule names the program's own module and version, such as "github.com/mms-io/mms (devel)".
func mainModule() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown module"
	}
	return info.Main.Path + " " + info.Main.Version
}

// writeBuildInfo prints the build data, the defaults that matter to a node and every
// registered plugin, in the sections go-choria's buildinfo uses.
func writeBuildInfo(w io.Writer, bi *build.Info, dependencies bool) {
	section := func(title string, lines ...string) {
		if len(lines) == 0 {
			return
		}
		fmt.Fprintf(w, "\n%s:\n\n", title)
		for _, l := range lines {
			fmt.Fprintf(w, "  %s\n", l)
		}
	}

	fmt.Fprintln(w, "Choria build settings:")
	section("Build Data",
		"Version: "+bi.Version(),
		"go-choria: "+goChoriaModule+" "+buildinfo.ModuleVersion(goChoriaModule),
		"Built from: "+mainModule(),
		"Git SHA: "+bi.SHA(),
		"Build Date: "+bi.BuildDate(),
		"License: "+bi.License(),
		"Go Version: "+runtime.Version())
	section("Protocol Defaults and Settings",
		"Default Collectives: "+strings.Join(bi.DefaultCollectives(), ", "),
		"Client Identity Suffix: "+bi.ClientIdentitySuffix())
	section("Network Broker Settings",
		fmt.Sprintf("Maximum Network Clients: %d", bi.MaxBrokerClients()),
		"Embedded NATS Server Version: "+gnatsd.VERSION)
	section("Server Settings",
		fmt.Sprintf("Supports Provisioning: %t", bi.SupportsProvisioning()))
	section("Security Defaults",
		fmt.Sprintf("TLS: %t", bi.HasTLS()),
		fmt.Sprintf("x509 Security: %t", protocol.IsSecure()))
	section("Agent Providers", bi.AgentProviders()...)
	section("Data Providers", bi.DataProviders()...)
	section("Autonomous Agents", bi.Machines()...)
	section("Autonomous Agent Watchers", bi.MachineWatchers()...)
	if dependencies {
		section("Compile time module dependencies", dependencyLines()...)
	}
}

// dependencyLines lists every module the binary was built with, sorted, one "path version" a line.
func dependencyLines() []string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return []string{"Could not read dependency information"}
	}
	var out []string
	for _, dep := range info.Deps {
		out = append(out, dep.Path+" "+dep.Version)
	}
	sort.Strings(out)
	return out
}

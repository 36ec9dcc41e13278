// Command gochoria030 is a stock go-choria v0.30.2 node, as a fleet runs it before mms: the
// server and broker of internal/choriacli with go-choria's standard plugins only, so that
// go-choria's built-in plugins manager (`plugin.machines.download = true`) manages the
// machines directory. It is built only by tests through internal/peer; nothing in the
// product imports it.
package main

import (
	"os"

	"github.com/mms-io/mms/internal/choriacli"
)

func main() {
	os.Exit(choriacli.Main(os.Args[1:], choriacli.StandardPlugins))
}

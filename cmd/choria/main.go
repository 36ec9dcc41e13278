package main

import (
	"os"

	"github.com/mms-io/mms/internal/choriacli"
)

func main() {
	os.Exit(choriacli.Main(os.Args[1:], choriacli.StandardPlugins, mmsPlugins))
}

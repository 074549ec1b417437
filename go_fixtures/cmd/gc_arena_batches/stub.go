//go:build !goexperiment.arenas

package main

import (
	"fmt"
	"os"
)

// main of a build without GOEXPERIMENT=arenas, where the arena package does not exist. gxm
// never runs it (fixtures.yaml: requires [arenas]); it only lets one `go build` build every
// fixture of a cell.
func main() {
	fmt.Fprintln(os.Stderr, "gxm: usage: gc_arena_batches needs a build with GOEXPERIMENT=arenas")
	os.Exit(2)
}

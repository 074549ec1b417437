//go:build goexperiment.arenas

// arenaonly exists only where the arena package does: its build constraint excludes it from
// every cell without GOEXPERIMENT=arenas, where it is `unsupported` (the others still build).
package main

import (
	"arena"
	"fmt"
)

func main() {
	a := arena.NewArena()
	values := arena.MakeSlice[int](a, 8, 8)
	values[0] = 42
	fmt.Println(values[0])
	a.Free()
}

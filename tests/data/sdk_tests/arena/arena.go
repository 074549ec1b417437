//go:build goexperiment.arenas

// Package arena is SDK code built on the arena package; it exists only with GOEXPERIMENT=arenas.
package arena

import (
	"arena"
	"runtime"
)

// Buffer allocates n ints in a fresh arena, fills the arena's chunks, frees the arena and
// (wrongly) returns the slice. The runtime sets freed full chunks to fault (outside a GC cycle).
func Buffer(n int) []int {
	a := arena.NewArena()
	values := arena.MakeSlice[int](a, n, n)
	values[0] = 7
	for i := 0; i < 16; i++ {
		_ = arena.MakeSlice[byte](a, 1<<20, 1<<20)
	}
	runtime.GC()
	a.Free()
	return values
}

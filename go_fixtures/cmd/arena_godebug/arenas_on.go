//go:build goexperiment.arenas

package main

import "arena"

// arenasCompiledIn says whether the arena package is part of this build.
const arenasCompiledIn = true

// useArena allocates in an arena, checks the value and frees the arena.
func useArena() bool {
	a := arena.NewArena()
	x := arena.New[[64]byte](a)
	x[63] = 42
	ok := x[63] == 42
	a.Free()
	return ok
}

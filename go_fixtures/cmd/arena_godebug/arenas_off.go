//go:build !goexperiment.arenas

package main

// arenasCompiledIn says whether the arena package is part of this build: without
// GOEXPERIMENT=arenas it does not exist, so there is nothing to allocate with.
const arenasCompiledIn = false

// useArena reports that no arena could be used.
func useArena() bool { return false }

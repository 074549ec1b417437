//go:build goexperiment.arenas

// Command arena_uaf stands for an SDK bug with arenas: a request pointer kept after its arena was
// freed. It processes request batches in arenas for GXM_DURATION (correctly), then keeps a
// pointer to a request of a batch large enough to fill whole arena chunks, frees the arena
// outside a GC cycle and reads through the pointer. The runtime sets freed full chunks to fault,
// so the read dies with "accessed data from freed user arena" / "fatal error: fault". Expected:
// crash wherever arenas exist. (A read that returns — the program goes on — exits 0 and says so
// in the checks; arena_uaf_partial covers the partially used chunk, which does not fault.)
package main

import (
	"arena"
	"math/rand"
	"runtime"
	"time"

	"gxm.dev/fixtures/internal/arenareq"
	"gxm.dev/fixtures/internal/probe"
)

func main() {
	duration, seed := probe.Duration(), probe.Seed()
	p := probe.Start()
	rng := rand.New(rand.NewSource(seed))
	deadline := time.Now().Add(duration)
	var batches int64
	for time.Now().Before(deadline) {
		a := arena.NewArena()
		arenareq.Verify(arenareq.Build(a, rng, 64, batches*64), 64, "arena batch")
		a.Free()
		batches++
	}

	// The bug: r outlives its arena. The filler allocations exhaust r's chunk, so Free unmaps it.
	a := arena.NewArena()
	r := arenareq.Build(a, rng, 1, 0)
	for i := 0; i < 16; i++ {
		_ = arena.MakeSlice[byte](a, 1<<20, 1<<20)
	}
	runtime.GC() // Free sets chunks to fault only outside a GC cycle
	a.Free()
	value := r.Body[0] // use after free
	p.Finish(map[string]any{
		"batches":         batches,
		"read_after_free": "survived",
		"value_read":      value,
	}, batches)
}

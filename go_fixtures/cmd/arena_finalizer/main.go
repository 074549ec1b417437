//go:build goexperiment.arenas

// Command arena_finalizer stands for SDK code that attaches a finalizer to an object it
// allocated in an arena (e.g. to release C resources the request owns). It processes request
// batches in arenas for GXM_DURATION, then calls runtime.SetFinalizer on an arena-allocated
// request. The runtime refuses: "fatal error: runtime.SetFinalizer: first argument was allocated
// into an arena". Should SetFinalizer ever return instead, the fixture frees the arena, runs GC
// cycles and reports in its checks whether the finalizer ran (`finalizer_ran`), exiting 0.
// Expected: crash wherever arenas exist.
package main

import (
	"arena"
	"math/rand"
	"runtime"
	"sync/atomic"
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

	var ran atomic.Bool
	a := arena.NewArena()
	r := arenareq.Build(a, rng, 1, 0)
	runtime.SetFinalizer(r, func(*arenareq.Request) { ran.Store(true) })
	r = nil
	a.Free()
	for i := 0; i < 20 && !ran.Load(); i++ {
		runtime.GC()
		time.Sleep(5 * time.Millisecond)
	}
	p.Finish(map[string]any{"batches": batches, "finalizer_ran": ran.Load()}, batches)
}

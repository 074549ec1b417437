//go:build goexperiment.arenas

// Command gc_arena_batches is a GC benchmark of what arenas are for: SDK request batches
// (pointerful requests with headers and bodies, 128 per batch) built, checked and dropped, once
// on the heap and once in an arena freed after each batch. Each phase runs GXM_DURATION/2 with
// GOMAXPROCS workers. The reported metrics are those of the arena phase; the checks hold both
// phases' batches, GC cycles, allocated bytes and total GC pause from runtime.MemStats, so a
// report can set them side by side. ops = arena batches. A wrong byte exits with status 3.
// Needs GOEXPERIMENT=arenas (unsupported elsewhere).
package main

import (
	"arena"
	"math/rand"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"gxm.dev/fixtures/internal/arenareq"
	"gxm.dev/fixtures/internal/probe"
)

const batchSize = 128

// phaseStats is what one phase did, from runtime.MemStats before and after it.
type phaseStats struct {
	batches, gcCycles, allocBytes, pauseTotalNs int64
}

func main() {
	duration, seed := probe.Duration(), probe.Seed()
	heap := phase(duration/2, seed, false, func() {})
	var p *probe.Probe
	arenas := phase(duration/2, seed, true, func() { p = probe.Start() })
	p.Finish(map[string]any{
		"batch_size":           batchSize,
		"heap_batches":         heap.batches,
		"heap_gc_cycles":       heap.gcCycles,
		"heap_alloc_bytes":     heap.allocBytes,
		"heap_pause_total_ns":  heap.pauseTotalNs,
		"arena_batches":        arenas.batches,
		"arena_gc_cycles":      arenas.gcCycles,
		"arena_alloc_bytes":    arenas.allocBytes,
		"arena_pause_total_ns": arenas.pauseTotalNs,
	}, arenas.batches)
}

// phase runs batches for d on GOMAXPROCS workers, in arenas or on the heap. It starts from a
// fresh GC cycle and calls started right before the workers, so a probe started there measures
// the workload only.
func phase(d time.Duration, seed int64, inArena bool, started func()) phaseStats {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	started()
	deadline := time.Now().Add(d)
	var batches atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < runtime.GOMAXPROCS(0); w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			rng := rand.New(rand.NewSource(seed + int64(w)))
			for time.Now().Before(deadline) {
				batch(rng, inArena)
				batches.Add(1)
			}
		}(w)
	}
	wg.Wait()
	runtime.ReadMemStats(&after)
	return phaseStats{
		batches:      batches.Load(),
		gcCycles:     int64(after.NumGC - before.NumGC),
		allocBytes:   int64(after.TotalAlloc - before.TotalAlloc),
		pauseTotalNs: int64(after.PauseTotalNs - before.PauseTotalNs),
	}
}

func batch(rng *rand.Rand, inArena bool) {
	var a *arena.Arena
	if inArena {
		a = arena.NewArena()
	}
	head := arenareq.Build(a, rng, batchSize, 0)
	arenareq.Verify(head, batchSize, "request batch")
	if a != nil {
		a.Free()
	}
}

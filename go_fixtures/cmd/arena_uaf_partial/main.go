//go:build goexperiment.arenas

// Command arena_uaf_partial measures the other half of "touching a freed arena crashes": a
// request kept after its arena was freed, where the request lives in the arena's last, partially
// used chunk. The runtime does not set that chunk to fault; it hands it to the next arena (the
// runtime's own comment: "a crash is not always guaranteed"). The fixture frees the arena, lets a
// new arena allocate, runs GC cycles, reads the stale request and reports in its checks whether
// the read survived and whether the bytes were still the old ones (`read_after_free`:
// `survived-stale` or `survived-changed`). Exit 0 either way; a crash is the outcome crash.
// Expected: pass (the read survives) wherever arenas exist.
package main

import (
	"arena"
	"math/rand"
	"runtime"
	"time"

	"gxm.dev/fixtures/internal/arenareq"
	"gxm.dev/fixtures/internal/cmem"
	"gxm.dev/fixtures/internal/probe"
)

func main() {
	duration, seed := probe.Duration(), probe.Seed()
	p := probe.Start()
	rng := rand.New(rand.NewSource(seed))
	deadline := time.Now().Add(duration)
	var reads, changed int64
	for time.Now().Before(deadline) {
		a := arena.NewArena()
		r := arenareq.Build(a, rng, 8, reads*8) // a few KiB: stays in one, partial chunk
		a.Free()
		b := arena.NewArena() // takes over the partial chunk
		arenareq.Build(b, rng, 8, 0)
		runtime.GC()
		if !stillPattern(r.Body, r.Seed) { // use after free
			changed++
		}
		b.Free()
		reads++
	}
	result := "survived-stale"
	if changed > 0 {
		result = "survived-changed"
	}
	p.Finish(map[string]any{
		"read_after_free": result,
		"reads":           reads,
		"reads_changed":   changed,
	}, reads)
}

func stillPattern(b []byte, seed uint32) bool {
	for i, v := range b {
		if v != cmem.PatternByte(seed, i) {
			return false
		}
	}
	return true
}

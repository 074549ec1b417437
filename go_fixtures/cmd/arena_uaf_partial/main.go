//go:build goexperiment.arenas

// Command arena_uaf_partial measures the other half of "touching a freed arena crashes": a
// request kept after its arena was freed, where the request lives in the arena's last, partially
// used chunk. The runtime does not set that chunk to fault; it hands it to the next arena (the
// runtime's own comment: "a crash is not always guaranteed"). The fixture frees the arena, lets a
// new arena allocate, runs GC cycles, reads the stale request and reports in its checks whether
// the read survived and whether the bytes were still the old ones (`read_after_free`:
// `survived-stale` or `survived-changed`). Exit 0 either way; a crash is the outcome crash.
//
// Deterministic by construction: a chunk that fills up goes to the arena's full list and is set to
// fault when the arena is freed, so a loop that kept allocating would, after a load-dependent
// number of reads, put a request into a faulting chunk and crash (seen on a busy machine). The
// loop therefore stops after maxReads, whose allocations (at most ~42 KiB per read) stay far
// below one chunk (8 MiB): no chunk ever fills, none is set to fault, the read always survives.
// Expected: pass wherever arenas exist.
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

// maxReads keeps every allocation of the run inside the first arena chunk: 48 reads x 2 arenas x
// 8 requests x at most ~2.7 KiB each is ~2 MiB of an 8 MiB chunk.
const maxReads = 48

func main() {
	duration, seed := probe.Duration(), probe.Seed()
	p := probe.Start()
	rng := rand.New(rand.NewSource(seed))
	deadline := time.Now().Add(duration)
	var reads, changed int64
	for reads < maxReads && (reads == 0 || time.Now().Before(deadline)) {
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

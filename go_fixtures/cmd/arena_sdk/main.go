//go:build goexperiment.arenas

// Command arena_sdk stands for an SDK that builds its request objects in an arena
// (GOEXPERIMENT=arenas): every batch of requests (headers, body, links: pointerful objects) is
// allocated in a fresh arena, checked, copied into C memory for the C library, and the arena is
// freed in one go; C's copies are verified after the free. A wrong byte anywhere exits with
// status 3 (outcome corrupt). Expected: pass wherever arenas exist (unsupported elsewhere).
package main

import (
	"arena"
	"math/rand"
	"runtime"
	"time"
	"unsafe"

	"gxm.dev/fixtures/internal/arenareq"
	"gxm.dev/fixtures/internal/cmem"
	"gxm.dev/fixtures/internal/probe"
)

const batchSize = 64

// cCopy is a request body as the C library holds it.
type cCopy struct {
	ptr  unsafe.Pointer
	size int
	seed uint32
	id   int64
}

func main() {
	duration, seed := probe.Duration(), probe.Seed()
	p := probe.Start()
	rng := rand.New(rand.NewSource(seed))
	deadline := time.Now().Add(duration)
	var batches, requests, copied int64
	for time.Now().Before(deadline) {
		copies := batch(rng, requests)
		for _, c := range copies {
			if bad := cmem.Verify(c.ptr, c.size, c.seed); bad >= 0 {
				probe.Corrupt("C copy of request %d: byte %d changed after the arena was freed",
					c.id, bad)
			}
			copied += int64(c.size)
			cmem.Release(c.ptr, c.size)
		}
		batches++
		requests += batchSize
		if batches%16 == 0 {
			runtime.GC()
		}
	}
	p.Finish(map[string]any{
		"batches":      batches,
		"requests":     requests,
		"bytes_copied": copied,
		"batch_size":   batchSize,
	}, requests)
}

// batch builds one request batch in a fresh arena, copies the bodies to C and frees the arena.
func batch(rng *rand.Rand, firstID int64) []cCopy {
	a := arena.NewArena()
	head := arenareq.Build(a, rng, batchSize, firstID)
	arenareq.Verify(head, batchSize, "arena batch before copy")
	copies := make([]cCopy, 0, batchSize)
	for r := head; r != nil; r = r.Next {
		c := cCopy{ptr: cmem.Malloc(len(r.Body)), size: len(r.Body), seed: r.Seed, id: r.ID}
		cmem.CopyIn(c.ptr, r.Body)
		copies = append(copies, c)
	}
	arenareq.Verify(head, batchSize, "arena batch after copy")
	a.Free()
	return copies
}

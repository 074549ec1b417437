// Command gc_cgo_mixed is a GC benchmark for SDK-heavy programs: GC cycles run while cgo calls
// are in flight. Half of the 2×GOMAXPROCS workers make back-to-back C calls that each checksum a
// 64 KiB C buffer (about 50 µs of C work), the other half allocate short-lived Go trees, so the
// collector starts, marks and stops the world while goroutines sit in C. The run lasts
// GXM_DURATION and on until it holds probe.MinPauses GC pauses. ops = cgo calls. A C checksum
// or a tree that comes out wrong exits with status 3 (outcome corrupt).
package main

import (
	"math/rand"
	"runtime"
	"sync/atomic"

	"gxm.dev/fixtures/internal/cmem"
	"gxm.dev/fixtures/internal/probe"
)

const cBufferBytes = 64 << 10

type node struct{ left, right *node }

func main() {
	duration, seed := probe.Duration(), probe.Seed()
	p := probe.Start()
	workers := 2 * runtime.GOMAXPROCS(0)
	var calls, trees atomic.Int64
	p.HoldWorkers(duration, workers, func(w int, stop *atomic.Bool) {
		rng := rand.New(rand.NewSource(seed + int64(w)))
		if w%2 == 0 {
			calls.Add(callC(rng, stop))
		} else {
			trees.Add(allocate(rng, stop))
		}
	})
	p.Finish(map[string]any{
		"workers":        workers,
		"cgo_calls":      calls.Load(),
		"trees":          trees.Load(),
		"c_buffer_bytes": cBufferBytes,
	}, calls.Load())
}

// callC checksums a C buffer in C until stop and returns the number of calls.
func callC(rng *rand.Rand, stop *atomic.Bool) int64 {
	buf := cmem.Malloc(cBufferBytes)
	defer cmem.Release(buf, cBufferBytes)
	seed := rng.Uint32()
	cmem.Fill(buf, cBufferBytes, seed)
	want := cmem.ExpectedChecksum(cBufferBytes, seed)
	var n int64
	for !stop.Load() {
		if got := cmem.Checksum(buf, cBufferBytes); got != want {
			probe.Corrupt("C buffer %p checksum %#x, want %#x", buf, got, want)
		}
		n++
	}
	return n
}

// allocate builds and checks short-lived trees (depth 8..11) until stop.
func allocate(rng *rand.Rand, stop *atomic.Bool) int64 {
	keep := make([]*node, 8)
	var n int64
	for !stop.Load() {
		depth := 8 + rng.Intn(4)
		t := build(depth)
		if got, want := count(t), 1<<(depth+1)-1; got != want {
			probe.Corrupt("tree of depth %d has %d nodes, want %d", depth, got, want)
		}
		keep[rng.Intn(len(keep))] = t
		n++
	}
	runtime.KeepAlive(keep)
	return n
}

func build(depth int) *node {
	if depth == 0 {
		return &node{}
	}
	return &node{build(depth - 1), build(depth - 1)}
}

func count(n *node) int {
	if n.left == nil {
		return 1
	}
	return 1 + count(n.left) + count(n.right)
}

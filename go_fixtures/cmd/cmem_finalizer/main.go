// Command cmem_finalizer stands for a cgo SDK whose handles own C.malloc'd memory freed by
// runtime.SetFinalizer. Several goroutines create, fill, verify and drop handles through cgo
// calls while the GC is kept busy (forced collections, garbage allocation); every cgo call on a
// handle's memory is followed by runtime.KeepAlive. A wrong byte or checksum, or a finalizer
// running while its memory is in use, exits with status 3 (outcome corrupt).
package main

import (
	"math/rand"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"gxm.dev/fixtures/internal/probe"
)

const (
	handlesPerWorker = 64
	sharedHandles    = 16
	maxHandleBytes   = 8192
	forcedGCEvery    = 20 * time.Millisecond
	finalizerWait    = 500 * time.Millisecond
)

func main() {
	duration, seed := probe.Duration(), probe.Seed()
	p := probe.Start()
	deadline := time.Now().Add(duration)
	workers := 2 * runtime.GOMAXPROCS(0)

	shared := make([]*handle, sharedHandles)
	for i := range shared {
		shared[i] = newHandle(64+i*64, uint32(seed)+uint32(i))
	}
	var forcedGCs atomic.Int64
	stopGC := make(chan struct{})
	gcDone := make(chan struct{})
	go forceGCs(stopGC, gcDone, &forcedGCs)

	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			work(rand.New(rand.NewSource(seed+int64(w))), shared, deadline)
		}(w)
	}
	wg.Wait()
	close(stopGC)
	<-gcDone
	for _, h := range shared {
		h.crossCheck()
	}
	shared = nil
	waitForFinalizers(finalizerWait)

	created, finalized := handlesCreated.Load(), handlesFinalized.Load()
	p.Finish(map[string]any{
		"workers":           workers,
		"handles_created":   created,
		"handles_finalized": finalized,
		"handles_live":      created - finalized,
		"forced_gcs":        forcedGCs.Load(),
	}, cgoCalls.Load())
}

// work runs one goroutine's share until deadline: a ring of owned handles that are replaced
// (the old one becomes garbage for its finalizer), refilled and verified, plus reads of the
// handles all goroutines share, plus Go garbage to keep the allocator and GC busy.
func work(rng *rand.Rand, shared []*handle, deadline time.Time) {
	ring := make([]*handle, handlesPerWorker)
	for i := range ring {
		ring[i] = newHandle(64+rng.Intn(maxHandleBytes), rng.Uint32())
	}
	garbage := make([][]byte, 32)
	for i := 0; time.Now().Before(deadline); i++ {
		slot := rng.Intn(len(ring))
		switch i % 8 {
		case 0, 1:
			ring[slot] = newHandle(64+rng.Intn(maxHandleBytes), rng.Uint32())
		case 2:
			ring[slot].refill(rng.Uint32())
		case 3:
			ring[slot].crossCheck()
		case 4:
			shared[rng.Intn(len(shared))].verify("shared")
		default:
			ring[slot].verify("in use")
		}
		garbage[i%len(garbage)] = make([]byte, 16+rng.Intn(4096))
	}
	for _, h := range ring {
		h.verify("at the end")
	}
}

// forceGCs runs a full collection every forcedGCEvery until stop is closed.
func forceGCs(stop <-chan struct{}, done chan<- struct{}, count *atomic.Int64) {
	defer close(done)
	ticker := time.NewTicker(forcedGCEvery)
	defer ticker.Stop()
	for {
		select {
		case <-stop:
			return
		case <-ticker.C:
			runtime.GC()
			count.Add(1)
		}
	}
}

// waitForFinalizers collects until every handle created has been finalized, or limit passes.
// Finalizers run on one goroutine after the GC that found their objects unreachable, so a few
// cycles usually drain them; the rest show up as handles_live.
func waitForFinalizers(limit time.Duration) {
	stop := time.Now().Add(limit)
	for handlesFinalized.Load() < handlesCreated.Load() && time.Now().Before(stop) {
		runtime.GC()
		time.Sleep(time.Millisecond)
	}
}

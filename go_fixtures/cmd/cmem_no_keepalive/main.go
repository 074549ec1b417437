// Command cmem_no_keepalive is cmem_finalizer's SDK pattern with its classic bug: a handle owns
// C.malloc'd memory freed by a finalizer, and a method passes the C pointer to a long C call
// without runtime.KeepAlive(handle) after it. Once the method has loaded the handle's fields the
// handle is unreachable, so a GC during the C call can queue its finalizer, which poisons and
// frees the memory while C is still reading it. C sees the poison (or the bytes of whoever
// malloc'd the memory next) and the fixture exits with status 3 (outcome corrupt); a read of
// unmapped memory would be a crash instead. It is expected to fail in a good share of runs.
package main

import (
	"math/rand"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"gxm.dev/fixtures/internal/cmem"
	"gxm.dev/fixtures/internal/probe"
)

const (
	maxHandleBytes = 4096
	callLength     = 2 * time.Millisecond // one SDK call reads its buffer this long
	callPause      = 20 * time.Microsecond
)

// handle is what the SDK hands out: a Go object owning C memory that its finalizer frees.
type handle struct {
	id   int64
	buf  unsafe.Pointer
	size int
	seed uint32
}

const busySlots = 1 << 16

var (
	created, finalized, calls atomic.Int64
	freedInFlight             atomic.Int64 // finalizers that ran while a C call read the memory
	// busy is C memory: slot id%busySlots holds id while C reads handle id's memory; the C
	// function clears it as its last step, so "in flight" never includes the time after it.
	busy = cmem.Int64s(busySlots)
)

func newHandle(size int, seed uint32) *handle {
	h := &handle{id: created.Add(1), buf: cmem.Malloc(size), size: size, seed: seed}
	cmem.Fill(h.buf, size, seed)
	runtime.SetFinalizer(h, finalizeHandle)
	return h
}

// finalizeHandle poisons and frees the handle's C memory, as SDK finalizers do.
func finalizeHandle(h *handle) {
	if atomic.LoadInt64(&busy[h.id%busySlots]) == h.id {
		freedInFlight.Add(1)
	}
	cmem.Release(h.buf, h.size)
	finalized.Add(1)
}

// read is the buggy SDK method: h is not used after its fields are loaded, and there is no
// runtime.KeepAlive(h) after the C call, so h may be finalized while C reads h.buf.
//
//go:noinline
func (h *handle) read() {
	id, buf, size, seed := h.id, h.buf, h.size, h.seed
	slot := &busy[id%busySlots]
	atomic.StoreInt64(slot, id)
	bad := cmem.VerifyFor(buf, size, seed, callLength, callPause, slot)
	calls.Add(1)
	if bad >= 0 {
		probe.Corrupt("handle %d (%d bytes): byte %d changed during a cgo call reading it: "+
			"its finalizer freed the memory (no runtime.KeepAlive after the last use); "+
			"%d finalizers ran during a call so far", id, size, bad, freedInFlight.Load())
	}
}

func main() {
	duration, seed := probe.Duration(), probe.Seed()
	p := probe.Start()
	deadline := time.Now().Add(duration)
	workers := 2 * runtime.GOMAXPROCS(0)

	stop := make(chan struct{})
	var forced atomic.Int64
	var gcWG sync.WaitGroup
	gcWG.Add(1)
	go func() {
		defer gcWG.Done()
		forceGCs(stop, &forced)
	}()
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			rng := rand.New(rand.NewSource(seed + int64(w)))
			for time.Now().Before(deadline) {
				newHandle(64+rng.Intn(maxHandleBytes), rng.Uint32()).read()
			}
		}(w)
	}
	wg.Wait()
	close(stop)
	gcWG.Wait()
	if n := freedInFlight.Load(); n > 0 {
		probe.Corrupt("%d finalizers freed C memory while a cgo call was reading it "+
			"(no runtime.KeepAlive after the last use)", n)
	}
	p.Finish(map[string]any{
		"workers":           workers,
		"handles_created":   created.Load(),
		"handles_finalized": finalized.Load(),
		"freed_in_flight":   freedInFlight.Load(),
		"forced_gcs":        forced.Load(),
	}, calls.Load())
}

// forceGCs collects back to back (with a short breather) until stop is closed, so that cycles
// start while handles are in the middle of C calls.
func forceGCs(stop <-chan struct{}, count *atomic.Int64) {
	for {
		select {
		case <-stop:
			return
		default:
		}
		runtime.GC()
		count.Add(1)
		time.Sleep(200 * time.Microsecond)
	}
}

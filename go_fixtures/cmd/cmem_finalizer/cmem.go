package main

// The C side (fill, verify, checksum, poison-then-free) is the shared internal/cmem package, the
// same code cmem_no_keepalive uses, so the two fixtures differ only in their KeepAlive calls.

import (
	"runtime"
	"sync/atomic"
	"unsafe"

	"gxm.dev/fixtures/internal/cmem"
	"gxm.dev/fixtures/internal/probe"
)

// handle is what an SDK hands out: a Go object owning C memory that a finalizer frees.
type handle struct {
	id    int64
	buf   unsafe.Pointer
	size  int
	seed  uint32
	inUse atomic.Int32 // > 0 while a cgo call uses buf
}

var (
	handlesCreated   atomic.Int64
	handlesFinalized atomic.Int64
	cgoCalls         atomic.Int64
)

// newHandle mallocs size bytes of C memory, fills it from seed and arranges for a finalizer to
// free it once the handle is unreachable.
func newHandle(size int, seed uint32) *handle {
	h := &handle{
		id:   handlesCreated.Add(1),
		buf:  cmem.Malloc(size),
		size: size,
		seed: seed,
	}
	cmem.Fill(h.buf, h.size, seed)
	cgoCalls.Add(1)
	runtime.SetFinalizer(h, finalizeHandle)
	return h
}

// finalizeHandle frees the C memory. The handle must not be in use: a finalizer that runs
// during a cgo call on its memory means a KeepAlive is missing, and the memory is freed under C.
func finalizeHandle(h *handle) {
	if n := h.inUse.Load(); n != 0 {
		probe.Corrupt("handle %d finalized while %d cgo calls use its memory", h.id, n)
	}
	h.verify("at finalization")
	cmem.Release(h.buf, h.size)
	h.buf = nil
	handlesFinalized.Add(1)
}

// verify checks in C that the memory still holds the handle's pattern.
func (h *handle) verify(when string) {
	h.inUse.Add(1)
	bad := cmem.Verify(h.buf, h.size, h.seed)
	h.inUse.Add(-1)
	cgoCalls.Add(1)
	runtime.KeepAlive(h) // h (and so its finalizer) must outlive the call using h.buf
	if bad >= 0 {
		probe.Corrupt("handle %d (%d bytes, seed %d) %s: byte %d does not hold the pattern",
			h.id, h.size, h.seed, when, bad)
	}
}

// refill writes a new pattern through C.
func (h *handle) refill(seed uint32) {
	h.inUse.Add(1)
	cmem.Fill(h.buf, h.size, seed)
	h.seed = seed
	h.inUse.Add(-1)
	cgoCalls.Add(1)
	runtime.KeepAlive(h)
}

// crossCheck compares C's checksum of the memory with the checksum Go expects of the pattern,
// and reads the same memory from Go directly (legal: it is C memory, not Go memory).
func (h *handle) crossCheck() {
	h.inUse.Add(1)
	fromC := cmem.Checksum(h.buf, h.size)
	fromGo := fnv1a(unsafe.Slice((*byte)(h.buf), h.size))
	h.inUse.Add(-1)
	cgoCalls.Add(1)
	runtime.KeepAlive(h)
	want := cmem.ExpectedChecksum(h.size, h.seed)
	if fromC != want || fromGo != want {
		probe.Corrupt("handle %d checksum: C %#x, Go read %#x, want %#x", h.id, fromC, fromGo, want)
	}
}

func fnv1a(data []byte) uint64 {
	h := uint64(1469598103934665603)
	for _, b := range data {
		h ^= uint64(b)
		h *= 1099511628211
	}
	return h
}

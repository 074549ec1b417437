package main

/*
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

// The byte at offset i of a buffer filled with seed. Go's patternByte computes the same.
static inline uint8_t gxm_pattern(uint32_t seed, size_t i) {
	uint32_t x = (seed ^ ((uint32_t)i * 0x9E3779B1u)) * 0x85EBCA6Bu;
	return (uint8_t)(x >> 24);
}

static void gxm_fill(uint8_t *buf, size_t n, uint32_t seed) {
	for (size_t i = 0; i < n; i++) buf[i] = gxm_pattern(seed, i);
}

// Offset of the first byte that does not hold the pattern, or -1 when all do.
static int64_t gxm_verify(const uint8_t *buf, size_t n, uint32_t seed) {
	for (size_t i = 0; i < n; i++) {
		if (buf[i] != gxm_pattern(seed, i)) return (int64_t)i;
	}
	return -1;
}

// FNV-1a over the buffer; Go computes the same over the pattern it expects.
static uint64_t gxm_checksum(const uint8_t *buf, size_t n) {
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < n; i++) { h ^= buf[i]; h *= 1099511628211ull; }
	return h;
}

// Poison freed memory first, so a use after free reads garbage, not a still-valid pattern.
static void gxm_release(uint8_t *buf, size_t n) {
	memset(buf, 0xDD, n);
	free(buf);
}
*/
import "C"

import (
	"runtime"
	"sync/atomic"
	"unsafe"

	"gxm.dev/fixtures/internal/probe"
)

// handle is what an SDK hands out: a Go object owning C memory that a finalizer frees.
type handle struct {
	id    int64
	buf   *C.uint8_t
	size  C.size_t
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
		buf:  (*C.uint8_t)(C.malloc(C.size_t(size))),
		size: C.size_t(size),
		seed: seed,
	}
	C.gxm_fill(h.buf, h.size, C.uint32_t(seed))
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
	C.gxm_release(h.buf, h.size)
	h.buf = nil
	handlesFinalized.Add(1)
}

// verify checks in C that the memory still holds the handle's pattern.
func (h *handle) verify(when string) {
	h.inUse.Add(1)
	bad := int64(C.gxm_verify(h.buf, h.size, C.uint32_t(h.seed)))
	h.inUse.Add(-1)
	cgoCalls.Add(1)
	runtime.KeepAlive(h) // h (and so its finalizer) must outlive the call using h.buf
	if bad >= 0 {
		probe.Corrupt("handle %d (%d bytes, seed %d) %s: byte %d does not hold the pattern",
			h.id, int(h.size), h.seed, when, bad)
	}
}

// refill writes a new pattern through C.
func (h *handle) refill(seed uint32) {
	h.inUse.Add(1)
	C.gxm_fill(h.buf, h.size, C.uint32_t(seed))
	h.seed = seed
	h.inUse.Add(-1)
	cgoCalls.Add(1)
	runtime.KeepAlive(h)
}

// crossCheck compares C's checksum of the memory with the checksum Go expects of the pattern,
// and reads the same memory from Go directly (legal: it is C memory, not Go memory).
func (h *handle) crossCheck() {
	h.inUse.Add(1)
	fromC := uint64(C.gxm_checksum(h.buf, h.size))
	fromGo := fnv1a(unsafe.Slice((*byte)(unsafe.Pointer(h.buf)), int(h.size)))
	h.inUse.Add(-1)
	cgoCalls.Add(1)
	runtime.KeepAlive(h)
	want := expectedChecksum(int(h.size), h.seed)
	if fromC != want || fromGo != want {
		probe.Corrupt("handle %d checksum: C %#x, Go read %#x, want %#x", h.id, fromC, fromGo, want)
	}
}

func patternByte(seed uint32, i int) byte {
	x := (seed ^ (uint32(i) * 0x9E3779B1)) * 0x85EBCA6B
	return byte(x >> 24)
}

func expectedChecksum(size int, seed uint32) uint64 {
	h := uint64(1469598103934665603)
	for i := 0; i < size; i++ {
		h ^= uint64(patternByte(seed, i))
		h *= 1099511628211
	}
	return h
}

func fnv1a(data []byte) uint64 {
	h := uint64(1469598103934665603)
	for _, b := range data {
		h ^= uint64(b)
		h *= 1099511628211
	}
	return h
}

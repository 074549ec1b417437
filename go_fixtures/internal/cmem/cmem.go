// Package cmem is the C side the fixtures share: C memory filled with a seeded pattern, verified
// and checksummed in C, poisoned before it is freed. Every function takes plain pointers, so a
// fixture can hand it C memory, Go heap memory (pointer-free, as cgo allows) or arena memory.
//
// The pattern byte at offset i of a buffer filled with seed is PatternByte(seed, i); Go and C
// compute the same value, so either side can check what the other wrote.
package cmem

/*
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static inline uint8_t cmem_pattern(uint32_t seed, size_t i) {
	uint32_t x = (seed ^ ((uint32_t)i * 0x9E3779B1u)) * 0x85EBCA6Bu;
	return (uint8_t)(x >> 24);
}

static void cmem_fill(uint8_t *buf, size_t n, uint32_t seed) {
	for (size_t i = 0; i < n; i++) buf[i] = cmem_pattern(seed, i);
}

static int64_t cmem_verify(const volatile uint8_t *buf, size_t n, uint32_t seed) {
	for (size_t i = 0; i < n; i++) {
		if (buf[i] != cmem_pattern(seed, i)) return (int64_t)i;
	}
	return -1;
}

static int64_t now_ns(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

// Verify the buffer again and again for about ns nanoseconds, sleeping pause_ns between passes,
// the way an SDK call that works on a buffer for a while reads it. Returns the first bad offset
// seen, or -1. Its last step sets *busy (when not NULL) to 0: the caller's "C is still reading".
static int64_t cmem_verify_for(const volatile uint8_t *buf, size_t n, uint32_t seed,
                               int64_t ns, int64_t pause_ns, int64_t *busy) {
	int64_t end = now_ns() + ns, bad = -1;
	struct timespec pause = { pause_ns / 1000000000, pause_ns % 1000000000 };
	do {
		bad = cmem_verify(buf, n, seed);
		if (bad >= 0) break;
		if (pause_ns > 0) nanosleep(&pause, NULL);
	} while (now_ns() < end);
	if (busy) __atomic_store_n(busy, 0, __ATOMIC_SEQ_CST);
	return bad;
}

static uint64_t cmem_checksum(const uint8_t *buf, size_t n) {
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < n; i++) { h ^= buf[i]; h *= 1099511628211ull; }
	return h;
}

static void cmem_release(uint8_t *buf, size_t n) {
	memset(buf, 0xDD, n);
	free(buf);
}
*/
import "C"

import (
	"time"
	"unsafe"
)

// PoisonByte is what Release writes over memory before freeing it.
const PoisonByte = 0xDD

// Malloc returns n bytes of C memory (never nil: it panics when malloc fails).
func Malloc(n int) unsafe.Pointer {
	p := C.malloc(C.size_t(n))
	if p == nil {
		panic("cmem: malloc failed")
	}
	return p
}

// Release poisons n bytes at p and frees them: a later reader sees PoisonByte or garbage.
func Release(p unsafe.Pointer, n int) {
	C.cmem_release((*C.uint8_t)(p), C.size_t(n))
}

// Fill writes the pattern of seed into n bytes at p, in C.
func Fill(p unsafe.Pointer, n int, seed uint32) {
	C.cmem_fill((*C.uint8_t)(p), C.size_t(n), C.uint32_t(seed))
}

// Verify checks in C that n bytes at p hold the pattern of seed: the first bad offset, or -1.
func Verify(p unsafe.Pointer, n int, seed uint32) int {
	return int(C.cmem_verify((*C.uint8_t)(p), C.size_t(n), C.uint32_t(seed)))
}

// VerifyFor is Verify repeated in one C call for about d, sleeping pause between passes: a
// long SDK call reading the buffer. The first bad offset seen, or -1. As its last step C stores
// 0 into *busy (an int64 in C memory, or nil for none), so a caller can tell "C is still reading"
// from "the call has returned".
func VerifyFor(p unsafe.Pointer, n int, seed uint32, d, pause time.Duration, busy *int64) int {
	return int(C.cmem_verify_for((*C.uint8_t)(p), C.size_t(n), C.uint32_t(seed),
		C.int64_t(d.Nanoseconds()), C.int64_t(pause.Nanoseconds()), (*C.int64_t)(unsafe.Pointer(busy))))
}

// Int64s returns n int64 slots of zeroed C memory (for flags C code clears).
func Int64s(n int) []int64 {
	p := C.calloc(C.size_t(n), 8)
	if p == nil {
		panic("cmem: calloc failed")
	}
	return unsafe.Slice((*int64)(p), n)
}

// CopyIn copies src (Go memory: heap, stack or arena) into C memory at dst with C's memcpy.
func CopyIn(dst unsafe.Pointer, src []byte) {
	if len(src) > 0 {
		C.memcpy(dst, unsafe.Pointer(&src[0]), C.size_t(len(src)))
	}
}

// Checksum is FNV-1a over n bytes at p, computed in C.
func Checksum(p unsafe.Pointer, n int) uint64 {
	return uint64(C.cmem_checksum((*C.uint8_t)(p), C.size_t(n)))
}

// PatternByte is the byte at offset i of a buffer filled with seed (the same as the C side).
func PatternByte(seed uint32, i int) byte {
	x := (seed ^ (uint32(i) * 0x9E3779B1)) * 0x85EBCA6B
	return byte(x >> 24)
}

// ExpectedChecksum is the FNV-1a checksum of n bytes filled with seed.
func ExpectedChecksum(n int, seed uint32) uint64 {
	h := uint64(1469598103934665603)
	for i := 0; i < n; i++ {
		h ^= uint64(PatternByte(seed, i))
		h *= 1099511628211
	}
	return h
}

// FillGo writes the pattern of seed into b from Go.
func FillGo(b []byte, seed uint32) {
	for i := range b {
		b[i] = PatternByte(seed, i)
	}
}

// Command c_keeps_gobuf is an SDK whose C side keeps a pointer to a Go buffer after the call that
// passed it returns (cgo's rules forbid that) and reads the buffer later, after Go has dropped it
// and a GC cycle has collected it. By default the freed memory still holds the old bytes, so the
// late read happens to see the right data and the bug hides: pass. GODEBUG=clobberfree=1 makes the
// collector overwrite every freed object at once, so the late read sees garbage: exit status 3
// (outcome corrupt). Under -asan the runtime poisons freed Go memory and the C read is reported.
package main

/*
#include <stdint.h>
#include <stddef.h>

static const uint8_t *kept;
static size_t kept_len;

// sdk_register remembers the caller's buffer for a later sdk_flush: the SDK bug.
static void sdk_register(const uint8_t *buf, size_t n) { kept = buf; kept_len = n; }

// sdk_flush checksums the remembered buffer (FNV-1a), long after sdk_register returned.
static uint64_t sdk_flush(void) {
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < kept_len; i++) { h ^= kept[i]; h *= 1099511628211ull; }
	return h;
}
*/
import "C"

import (
	"math/rand"
	"runtime"
	"time"
	"unsafe"

	"gxm.dev/fixtures/internal/probe"
)

// bufferBytes is an uncommon size class, so nothing else the runtime allocates reuses the slot
// between the collection and the late read.
const bufferBytes = 1152

// pool holds live buffers of the same size class, allocated in a row. Each round hands one of
// them to C and replaces it, so at most one object per span is garbage at a collection: the span
// of the dropped buffer stays in use, and its freed slot is neither handed back to the page heap
// nor returned to the OS (which would read as zeros) before C reads it.
var pool [64][]byte

func fnv(data []byte) uint64 {
	h := uint64(1469598103934665603)
	for _, b := range data {
		h ^= uint64(b)
		h *= 1099511628211
	}
	return h
}

// register fills a pool buffer, hands it to the SDK and drops it (its pool slot gets a fresh
// buffer); it returns the checksum the SDK should report later.
//
//go:noinline
func register(rng *rand.Rand, round int64) uint64 {
	slot := int(round % int64(len(pool)))
	buf := pool[slot]
	rng.Read(buf)
	C.sdk_register((*C.uint8_t)(unsafe.Pointer(&buf[0])), C.size_t(len(buf)))
	pool[slot] = make([]byte, bufferBytes)
	return fnv(buf)
}

func main() {
	duration, seed := probe.Duration(), probe.Seed()
	rng := rand.New(rand.NewSource(seed))
	p := probe.Start()
	for i := range pool {
		pool[i] = make([]byte, bufferBytes)
	}
	var rounds int64
	for end := time.Now().Add(duration); rounds == 0 || time.Now().Before(end); rounds++ {
		want := register(rng, rounds)
		runtime.GC() // collects the buffer: only C still points at it
		if got := uint64(C.sdk_flush()); got != want {
			probe.Corrupt("round %d: the buffer C kept reads %#x after a GC, want %#x", rounds, got, want)
		}
	}
	p.Finish(map[string]any{"rounds": rounds}, rounds)
}

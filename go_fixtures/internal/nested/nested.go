// Package nested is the shared body of nested_gopointer and nested_gopointer_pinned: an SDK
// request struct allocated in Go whose field points to a Go payload buffer, passed to C by
// pointer. cgo's pointer check (on by default, GODEBUG cgocheck=1) rejects a Go pointer to
// memory holding an unpinned Go pointer with the panic "cgo argument has Go pointer to unpinned
// Go pointer" (Go 1.21-1.25) / "argument of cgo function has Go pointer to unpinned Go pointer"
// (Go 1.26+); pinning the payload with runtime.Pinner (Go 1.21+) makes the call legal.
package nested

/*
#include <stddef.h>
#include <stdint.h>

// The SDK's request: C reads the payload through the pointer inside it.
struct request {
	const uint8_t *payload;
	size_t size;
};

static uint64_t sdk_submit(const struct request *req) {
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < req->size; i++) { h ^= req->payload[i]; h *= 1099511628211ull; }
	return h;
}
*/
import "C"

import (
	"math/rand"
	"runtime"
	"time"
	"unsafe"

	"gxm.dev/fixtures/internal/cmem"
	"gxm.dev/fixtures/internal/probe"
)

// Run submits requests for GXM_DURATION, pinning each payload when pin is true, and checks the
// checksum C computes over the payload it reached through the request. Without pin the first
// call panics in cgo's pointer check.
func Run(pin bool) {
	if pin {
		RunForgetting(-1)
	} else {
		RunForgetting(0)
	}
}

// RunForgetting pins every payload except one: the first request submitted after the fraction
// forgetAt of GXM_DURATION has passed (0: the first request; negative: none is forgotten).
func RunForgetting(forgetAt float64) {
	duration, seed := probe.Duration(), probe.Seed()
	p := probe.Start()
	rng := rand.New(rand.NewSource(seed))
	start := time.Now()
	deadline := start.Add(duration)
	forgetFrom := start.Add(time.Duration(forgetAt * float64(duration)))
	pin := true
	var calls int64
	garbage := make([][]byte, 256)
	for i := 0; time.Now().Before(deadline); i++ {
		pin = forgetAt < 0 || time.Now().Before(forgetFrom)
		submit(rng, pin)
		calls++
		garbage[i%len(garbage)] = make([]byte, 64+rng.Intn(8192))
		if i%64 == 0 {
			runtime.GC()
		}
	}
	p.Finish(map[string]any{"pinned": forgetAt < 0, "requests": calls}, calls)
}

// submit builds one request in Go memory and passes it to C.
func submit(rng *rand.Rand, pin bool) {
	payload := make([]byte, 64+rng.Intn(4096))
	seed := rng.Uint32()
	cmem.FillGo(payload, seed)
	req := &C.struct_request{
		payload: (*C.uint8_t)(unsafe.Pointer(&payload[0])),
		size:    C.size_t(len(payload)),
	}
	var pinner runtime.Pinner
	if pin {
		pinner.Pin(&payload[0])
	}
	sum := uint64(C.sdk_submit(req))
	pinner.Unpin()
	if want := cmem.ExpectedChecksum(len(payload), seed); sum != want {
		probe.Corrupt("C read a %d-byte payload through the request: checksum %#x, want %#x",
			len(payload), sum, want)
	}
}

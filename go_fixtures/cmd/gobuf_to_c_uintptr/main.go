// Command gobuf_to_c_uintptr is the control of gobuf_to_c_no_keepalive: the same call, but the
// buffer's address reaches C as an integer (uintptr), which hides it from cgo, so nothing keeps
// the buffer alive during the call. The GC may collect and reuse it while C reads it, which the
// fixture reports as corrupt data (exit status 3). It shows that the detector of the gobuf
// fixtures catches a buffer collected mid-call, so gobuf_to_c_no_keepalive passing means
// something. Expected: not pass in a good share of runs.
package main

/*
#include <stdint.h>
#include <stddef.h>
#include <time.h>

// The SDK call: checksums the buffer again and again for about ns nanoseconds (a call that works
// on its input for a while). Returns the checksum, or 0 when two passes disagree. Its last step
// clears *busy, the fixture's "C is still reading" mark.
static uint64_t sdk_read(const volatile uint8_t *buf, size_t n, int64_t ns, int64_t *busy) {
	struct timespec now, pause = { 0, 20000 };
	clock_gettime(CLOCK_MONOTONIC, &now);
	int64_t end = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec + ns, t;
	uint64_t first = 0;
	do {
		uint64_t h = 1469598103934665603ull;
		for (size_t i = 0; i < n; i++) { h ^= buf[i]; h *= 1099511628211ull; }
		if (first == 0) first = h; else if (h != first) { first = 0; break; }
		nanosleep(&pause, NULL);
		clock_gettime(CLOCK_MONOTONIC, &now);
		t = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
	} while (t < end);
	__atomic_store_n(busy, 0, __ATOMIC_SEQ_CST);
	return first;
}

// The same SDK call taking the buffer's address as an integer.
static uint64_t sdk_read_addr(uintptr_t addr, size_t n, int64_t ns, int64_t *busy) {
	return sdk_read((const volatile uint8_t *)addr, n, ns, busy);
}
*/
import "C"

import (
	"math/rand"
	"unsafe"

	"gxm.dev/fixtures/internal/gobuf"
)

func main() { gobuf.Run(call) }

// call passes the buffer's address as an integer: the buffer is unreachable during the call.
//
//go:noinline
func call(rng *rand.Rand) {
	b := gobuf.New(rng)
	id, size, seed := b.ID, len(b.Data), b.Seed
	addr := C.uintptr_t(uintptr(unsafe.Pointer(&b.Data[0])))
	b = gobuf.Buffer{}
	busy := (*C.int64_t)(gobuf.Begin(id))
	sum := C.sdk_read_addr(addr, C.size_t(size), C.int64_t(gobuf.CallLength.Nanoseconds()), busy)
	gobuf.End(id, size, seed, uint64(sum))
}

// Command gobuf_to_c passes Go heap buffers to a C call that reads them for a while, the way SDKs
// hand request payloads to C, and keeps each buffer alive after the call with runtime.KeepAlive.
// GC cycles are forced back to back during the calls. A buffer collected or changed during its
// call exits with status 3 (outcome corrupt). Expected: pass everywhere.
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
*/
import "C"

import (
	"math/rand"
	"runtime"
	"unsafe"

	"gxm.dev/fixtures/internal/gobuf"
)

func main() { gobuf.Run(call) }

// call hands the buffer to C and keeps it alive after the call (belt and braces: cgo already
// keeps pointer arguments alive for the duration of the call).
func call(rng *rand.Rand) {
	b := gobuf.New(rng)
	busy := (*C.int64_t)(gobuf.Begin(b.ID))
	sum := C.sdk_read((*C.uint8_t)(unsafe.Pointer(&b.Data[0])), C.size_t(len(b.Data)),
		C.int64_t(gobuf.CallLength.Nanoseconds()), busy)
	runtime.KeepAlive(b.Data)
	gobuf.End(b.ID, len(b.Data), b.Seed, uint64(sum))
}

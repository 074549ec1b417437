// Command c_stores_gopointer stands for an SDK wrapper that writes Go pointers into C memory: a
// C.malloc'd table of {data, size} slots that Go fills with pointers to Go buffers before C
// reads them. The cgo rules forbid storing an unpinned Go pointer in C memory; the default check
// (cgocheck=1) only inspects call arguments and misses it, while GOEXPERIMENT=cgocheck2 checks
// every pointer write and stops the program with "fatal error: unpinned Go pointer stored into
// non-Go memory". The Go buffers stay reachable from Go, so the data itself is right and C's
// checksum of them must match (otherwise exit status 3). Expected: pass by default, crash under
// cgocheck2.
package main

/*
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

struct slot {
	const uint8_t *data;
	size_t size;
};

// The SDK reads every slot of the table Go filled.
static uint64_t sdk_checksum_table(const struct slot *table, size_t n) {
	uint64_t h = 1469598103934665603ull;
	for (size_t s = 0; s < n; s++) {
		for (size_t i = 0; i < table[s].size; i++) { h ^= table[s].data[i]; h *= 1099511628211ull; }
	}
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

const slots = 64

func main() {
	duration, seed := probe.Duration(), probe.Seed()
	p := probe.Start()
	rng := rand.New(rand.NewSource(seed))
	tablePtr := (*C.struct_slot)(cmem.Malloc(slots * int(unsafe.Sizeof(C.struct_slot{}))))
	table := unsafe.Slice(tablePtr, slots)
	buffers := make([][]byte, slots) // keeps every buffer reachable from Go
	deadline := time.Now().Add(duration)
	var rounds, stores int64
	for time.Now().Before(deadline) {
		want := uint64(1469598103934665603)
		for s := range table {
			buf := make([]byte, 16+rng.Intn(1024))
			cmem.FillGo(buf, rng.Uint32())
			buffers[s] = buf
			table[s].data = (*C.uint8_t)(unsafe.Pointer(&buf[0])) // a Go pointer into C memory
			table[s].size = C.size_t(len(buf))
			stores++
			want = fnv1a(want, buf)
		}
		if got := uint64(C.sdk_checksum_table(tablePtr, slots)); got != want {
			probe.Corrupt("C's checksum of the table is %#x, want %#x", got, want)
		}
		rounds++
		if rounds%16 == 0 {
			runtime.GC()
		}
	}
	for s := range table {
		table[s].data = nil
	}
	runtime.KeepAlive(buffers)
	C.free(unsafe.Pointer(tablePtr))
	p.Finish(map[string]any{"rounds": rounds, "stores": stores, "slots": slots}, stores)
}

func fnv1a(h uint64, data []byte) uint64 {
	for _, b := range data {
		h ^= uint64(b)
		h *= 1099511628211
	}
	return h
}

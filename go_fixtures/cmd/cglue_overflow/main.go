// Command cglue_overflow is SDK glue code with an off-by-one heap overflow on the C side: it copies
// a Go string into a malloc'd block sized without room for the terminating NUL, so every call
// writes one byte past the block. glibc's malloc rounds blocks up, so by default the stray byte
// lands in padding and nothing notices: pass. Built with -asan the first stray write is a
// heap-buffer-overflow report naming sdk_copy_name.
package main

/*
#include <stdlib.h>
#include <string.h>

// sdk_copy_name copies name (n bytes, no NUL) into a new block: the bug is malloc(n), not n+1.
static char *sdk_copy_name(const char *name, size_t n) {
	char *copy = malloc(n);
	memcpy(copy, name, n);
	copy[n] = 0;
	return copy;
}

static size_t sdk_name_len(const char *copy) { return strlen(copy); }
*/
import "C"

import (
	"fmt"
	"math/rand"
	"time"
	"unsafe"

	"gxm.dev/fixtures/internal/probe"
)

func main() {
	duration, seed := probe.Duration(), probe.Seed()
	rng := rand.New(rand.NewSource(seed))
	p := probe.Start()
	var calls int64
	for end := time.Now().Add(duration); calls == 0 || time.Now().Before(end); calls++ {
		// 30 bytes: glibc's malloc(30) gives 40 usable bytes, so the stray NUL lands in padding
		// (a 24-byte name would have 24 usable bytes and hit the next block's header).
		name := fmt.Sprintf("device-name-%016x-%02d", rng.Uint64(), calls%100)[:30]
		cname := C.CString(name)
		copied := C.sdk_copy_name(cname, C.size_t(len(name)))
		if got := int(C.sdk_name_len(copied)); got != len(name) {
			probe.Corrupt("sdk_copy_name gave %d bytes, want %d", got, len(name))
		}
		C.free(unsafe.Pointer(copied))
		C.free(unsafe.Pointer(cname))
	}
	p.Finish(map[string]any{"calls": calls}, calls)
}

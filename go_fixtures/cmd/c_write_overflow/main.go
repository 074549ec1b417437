// Command c_write_overflow stands for an SDK writing past the end of a Go buffer: C decodes
// frames into a Go []byte for GXM_DURATION (correctly), then gets a frame whose length field
// claims more bytes than the buffer holds and sdk_unmask_payload writes past the buffer's end.
// To make the overflow fault every time (a write past a Go heap buffer usually corrupts its
// neighbour silently), the buffer ends at a page followed by an inaccessible guard page, the way
// Electric Fence finds such bugs. Go reports "SIGSEGV ... signal arrived during cgo execution";
// gxm names the C function (signature `SIGSEGV in sdk_unmask_payload`). Expected: crash
// everywhere.
package main

/*
#include <stddef.h>
#include <stdint.h>

// Unmasks `claimed` bytes of src into dst. The bug: `claimed` comes from the frame's length
// field and is never checked against dst's capacity.
static void sdk_unmask_payload(volatile uint8_t *dst, const uint8_t *src, size_t claimed,
                               uint8_t key) {
	for (size_t i = 0; i < claimed; i++) dst[i] = src[i % 64] ^ key;
}

static uint64_t sdk_read_frame(uint8_t *dst, size_t cap, const uint8_t *src, size_t claimed) {
	(void)cap; // the check the SDK forgot: claimed <= cap
	sdk_unmask_payload(dst, src, claimed, 0x5a);
	uint64_t sum = 0;
	for (size_t i = 0; i < claimed; i++) sum += dst[i];
	return sum;
}
*/
import "C"

import (
	"math/rand"
	"os"
	"syscall"
	"time"
	"unsafe"

	"gxm.dev/fixtures/internal/probe"
)

// guardedBuffer is a Go []byte of n bytes whose end is followed by an inaccessible page.
func guardedBuffer(n int) []byte {
	page := os.Getpagesize()
	size := (n + page - 1) / page * page
	mem, err := syscall.Mmap(-1, 0, size+page, syscall.PROT_READ|syscall.PROT_WRITE,
		syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		panic(err)
	}
	if err := syscall.Mprotect(mem[size:], syscall.PROT_NONE); err != nil {
		panic(err)
	}
	return mem[size-n : size : size]
}

func readFrame(dst, src []byte, claimed int) int64 {
	return int64(C.sdk_read_frame((*C.uint8_t)(unsafe.Pointer(&dst[0])), C.size_t(len(dst)),
		(*C.uint8_t)(unsafe.Pointer(&src[0])), C.size_t(claimed)))
}

func main() {
	duration, seed := probe.Duration(), probe.Seed()
	p := probe.Start()
	rng := rand.New(rand.NewSource(seed))
	dst, src := guardedBuffer(4096), make([]byte, 64)
	deadline := time.Now().Add(duration)
	var frames, sum int64
	for time.Now().Before(deadline) {
		rng.Read(src)
		sum += readFrame(dst, src, 1+rng.Intn(len(dst)))
		frames++
	}
	sum += readFrame(dst, src, len(dst)+1024) // the length field lies: writes past dst's end
	p.Finish(map[string]any{"frames": frames, "overflow": "survived", "sum": sum}, frames)
}

// Command c_null_read stands for the worst kind of SDK bug: a crash inside the SDK's C code. It
// decodes well-formed frames in C for GXM_DURATION, then hands the decoder an empty frame: the
// SDK's static sdk_parse_header (called by sdk_decode_frame) reads the header through the frame's
// NULL payload pointer. Go reports only "SIGSEGV ... signal arrived during cgo execution"; gxm
// names the C function from the binary (signature `SIGSEGV in sdk_parse_header`). Expected: crash
// everywhere.
package main

/*
#include <stddef.h>
#include <stdint.h>

struct sdk_frame {
	const volatile uint8_t *payload; // NULL for an empty frame
	size_t len;
};

// The bug: an empty frame has no payload, and the header read does not check for it.
static int sdk_parse_header(const struct sdk_frame *frame) {
	return (frame->payload[0] << 8) | frame->payload[1];
}

static int64_t sdk_decode_frame(const uint8_t *data, size_t len) {
	struct sdk_frame frame = { len ? data : NULL, len };
	int64_t sum = sdk_parse_header(&frame);
	for (size_t i = 2; i < len; i++) sum += frame.payload[i];
	return sum;
}
*/
import "C"

import (
	"math/rand"
	"time"
	"unsafe"

	"gxm.dev/fixtures/internal/probe"
)

func decode(frame []byte) int64 {
	var data *C.uint8_t
	if len(frame) > 0 {
		data = (*C.uint8_t)(unsafe.Pointer(&frame[0]))
	}
	return int64(C.sdk_decode_frame(data, C.size_t(len(frame))))
}

func main() {
	duration, seed := probe.Duration(), probe.Seed()
	p := probe.Start()
	rng := rand.New(rand.NewSource(seed))
	deadline := time.Now().Add(duration)
	var frames, sum int64
	for time.Now().Before(deadline) {
		frame := make([]byte, 2+rng.Intn(512))
		rng.Read(frame)
		sum += decode(frame)
		frames++
	}
	sum += decode(nil) // the empty frame: C reads through a NULL payload
	p.Finish(map[string]any{"frames": frames, "empty_frame": "survived", "sum": sum}, frames)
}

// Package cgoptr is SDK code that stores a Go pointer in C memory: legal-looking, against the
// cgo rules, and caught only by GOEXPERIMENT=cgocheck2 ("Go pointer stored into non-Go memory").
package cgoptr

/*
#include <stdlib.h>
#include <stdint.h>

struct slot { const uint8_t *data; size_t size; };

static struct slot *sdk_new_slot(void) { return calloc(1, sizeof(struct slot)); }
static size_t sdk_slot_sum(const struct slot *s) {
	size_t sum = 0;
	for (size_t i = 0; i < s->size; i++) sum += s->data[i];
	return sum;
}
*/
import "C"

import "unsafe"

// SumViaSlot puts data into a C-allocated slot (a Go pointer written into C memory) and has C
// sum it.
func SumViaSlot(data []byte) int {
	slot := C.sdk_new_slot()
	defer C.free(unsafe.Pointer(slot))
	slot.data = (*C.uint8_t)(unsafe.Pointer(&data[0]))
	slot.size = C.size_t(len(data))
	return int(C.sdk_slot_sum(slot))
}

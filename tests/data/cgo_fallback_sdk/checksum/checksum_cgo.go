//go:build cgo

// Package checksum is an SDK with a C implementation and a pure-Go fallback for builds without
// cgo (CGO_ENABLED=0): both give the same FNV-1a sum.
package checksum

/*
#include <stdint.h>
#include <stddef.h>

static uint64_t fnv1a(const uint8_t *p, size_t n) {
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < n; i++) { h ^= p[i]; h *= 1099511628211ull; }
	return h;
}
*/
import "C"

import "unsafe"

// Implementation says which implementation this build uses.
const Implementation = "cgo"

// Sum is the FNV-1a sum of data, computed in C.
func Sum(data []byte) uint64 {
	if len(data) == 0 {
		return 1469598103934665603
	}
	return uint64(C.fnv1a((*C.uint8_t)(unsafe.Pointer(&data[0])), C.size_t(len(data))))
}

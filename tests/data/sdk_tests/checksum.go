// Package cgosdk is a small cgo library: a C checksum over Go bytes, wrapped for Go.
package cgosdk

/*
#include <stddef.h>
#include <stdint.h>

static uint32_t sdk_adler32(const uint8_t *data, size_t n) {
	uint32_t a = 1, b = 0;
	for (size_t i = 0; i < n; i++) { a = (a + data[i]) % 65521; b = (b + a) % 65521; }
	return (b << 16) | a;
}
*/
import "C"

import (
	"unsafe"

	"example.com/sdkdep"
)

// Checksum is the Adler-32 of data, computed in C.
func Checksum(data []byte) uint32 {
	if len(data) == 0 {
		return 1
	}
	return uint32(C.sdk_adler32((*C.uint8_t)(unsafe.Pointer(&data[0])), C.size_t(len(data))))
}

// ReverseChecksum is the checksum of data reversed (with the help of the second module).
func ReverseChecksum(data []byte) uint32 {
	return Checksum(sdkdep.Reverse(data))
}

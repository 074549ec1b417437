// Command checksum uses the SDK, which works with cgo on (C) and off (pure Go): exit 0 when the sum
// of a known input is right, 3 (corrupt) when it is not.
package main

import (
	"fmt"
	"os"

	"example.com/cgo_fallback_sdk/checksum"
)

func main() {
	const want = 0x12df182b73081165 // FNV-1a of "hello, gxm"
	if got := checksum.Sum([]byte("hello, gxm")); got != want {
		fmt.Fprintf(os.Stderr, "gxm: corrupt: %s sum %#x, want %#x\n", checksum.Implementation, got, uint64(want))
		os.Exit(3)
	}
	fmt.Println("checksum ok:", checksum.Implementation)
}

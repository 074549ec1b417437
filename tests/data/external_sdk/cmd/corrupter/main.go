// corrupter detects wrong data the way the README asks a user's program to: it says what on
// stderr in its own words and exits with status 3 (no gxm marker, no Go crash output).
package main

import (
	"fmt"
	"os"
)

func main() {
	block := []byte{1, 2, 3, 4}
	sum := 0
	for _, b := range block {
		sum += int(b)
	}
	fmt.Fprintln(os.Stderr, "corrupter: verifying 4 blocks")
	if sum != 11 { // the data "is" wrong: 10 != 11
		fmt.Fprintf(os.Stderr, "checksum mismatch in block %d: got %d, want 11\n", 2, sum)
		os.Exit(3)
	}
}

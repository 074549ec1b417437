// hog allocates and touches memory without bound: gxm must end it as `oom`.
package main

import (
	"fmt"
	"os"
	"time"
)

func main() {
	var keep [][]byte
	for i := 0; ; i++ {
		chunk := make([]byte, 16<<20)
		for j := range chunk {
			chunk[j] = byte(j)
		}
		keep = append(keep, chunk)
		if i%8 == 0 {
			fmt.Fprintf(os.Stderr, "hog: %d MiB\n", len(keep)*16)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// flood writes 200 MB to stdout as fast as it can, then exits 0: the log must stay within the
// matrix's log_limit, keeping its first and last lines.
package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
)

func main() {
	out := bufio.NewWriterSize(os.Stdout, 1<<20)
	fmt.Fprintln(out, "flood: FIRST LINE")
	line := append(bytes.Repeat([]byte("x"), 1023), '\n')
	for i := 0; i < 200<<10; i++ {
		out.Write(line)
	}
	fmt.Fprintln(out, "flood: LAST LINE")
	out.Flush()
}

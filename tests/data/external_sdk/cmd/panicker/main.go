// panicker panics with a message carrying a number, so its signature must normalise it.
package main

import (
	"fmt"
	"os"
)

type handle struct{ id int }

func main() {
	handles := map[int]*handle{}
	fmt.Fprintln(os.Stderr, "panicker: looking up handle", os.Getpid())
	var h *handle = handles[42]
	fmt.Println(h.id)
}

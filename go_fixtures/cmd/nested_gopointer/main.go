// Command nested_gopointer passes C a Go-allocated request struct whose field points to a Go
// payload buffer that is not pinned: a violation of the cgo pointer rules that cgo's default
// pointer check turns into a panic ("cgo argument has Go pointer to unpinned Go pointer";
// worded "argument of cgo function has Go pointer to unpinned Go pointer" from Go 1.26).
// Expected: crash in every cell.
package main

import "gxm.dev/fixtures/internal/nested"

func main() { nested.Run(false) }

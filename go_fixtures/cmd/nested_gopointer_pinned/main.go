// Command nested_gopointer_pinned is nested_gopointer done right: the payload is pinned with
// runtime.Pinner (Go 1.21+) for the duration of the call, which makes a Go pointer inside Go
// memory passed to C legal. C checksums the payload it reaches through the request; a wrong
// checksum exits with status 3 (outcome corrupt). Expected: pass in every cell.
package main

import "gxm.dev/fixtures/internal/nested"

func main() { nested.Run(true) }

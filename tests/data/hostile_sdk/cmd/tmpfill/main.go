// tmpfill writes 1 MiB blocks into $TMPDIR until a write fails or 192 MiB are written, and
// reports how many bytes it got there (exit 0 either way).
package main

import (
	"os"
	"path/filepath"

	"example.com/hostile_sdk/internal/result"
)

func main() {
	file, err := os.Create(filepath.Join(os.Getenv("TMPDIR"), "filler"))
	if err != nil {
		result.Write(map[string]any{"tmp_bytes": 0, "error": err.Error()})
		return
	}
	block := make([]byte, 1<<20)
	written, failure := 0, ""
	for written < 192<<20 {
		n, err := file.Write(block)
		written += n
		if err != nil {
			failure = err.Error()
			break
		}
	}
	file.Close()
	result.Write(map[string]any{"tmp_bytes": written, "error": failure, "tmpdir": os.Getenv("TMPDIR")})
}

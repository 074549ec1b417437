// tmpfill says what kind of file system its $TMPDIR is (in its result, first, so the answer
// survives an OOM kill), then writes 1 MiB blocks there until a write fails or 192 MiB are
// written, and reports how many bytes it got there (exit 0 either way).
package main

import (
	"os"
	"path/filepath"
	"syscall"

	"example.com/hostile_sdk/internal/result"
)

const tmpfsMagic = 0x01021994

func main() {
	dir := os.Getenv("TMPDIR")
	kind := "other"
	var fs syscall.Statfs_t
	if syscall.Statfs(dir, &fs) == nil && fs.Type == tmpfsMagic {
		kind = "tmpfs"
	}
	result.Write(map[string]any{"tmpdir_fs": kind, "tmp_bytes": 0})
	file, err := os.Create(filepath.Join(dir, "filler"))
	if err != nil {
		result.Write(map[string]any{"tmpdir_fs": kind, "tmp_bytes": 0, "error": err.Error()})
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
	result.Write(map[string]any{"tmpdir_fs": kind, "tmp_bytes": written, "error": failure})
}

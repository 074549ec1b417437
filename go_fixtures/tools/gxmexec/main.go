// Command gxmexec runs one program inside a gxm container and reports exactly how it ended.
//
// A container's exit code cannot tell a program's own exit(137) from death by SIGKILL, and the
// engine's log copy is rotated (its head, where Go prints `fatal error:`, is lost on a flood).
// gxmexec starts the program, forwards every catchable signal to it, writes its stdout and
// stderr into files capped to a limit (the first half kept as written, the last half kept in
// memory and appended at the end, with the number of bytes dropped), and finally writes
// status.json: {"exit_code": N} or {"signal": N}, plus the bytes dropped and the program's peak
// RSS (max_rss_bytes, from wait4's rusage: the program and its waited-for children). It exits
// with the program's exit code, or 128+N for a signal, as a shell would.
//
// Usage: gxmexec DIR LIMIT_BYTES PROGRAM [ARG...]   (DIR receives stdout, stderr, status.json)
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
)

// capped keeps the head of a stream in its file and the tail in a ring buffer.
type capped struct {
	file    *os.File
	head    int64
	written int64
	ring    []byte
	next    int  // where the next tail byte goes
	filled  bool // the ring has wrapped at least once
	seen    int64
	dropped int64
}

func (c *capped) Write(p []byte) (int, error) {
	n := len(p)
	if room := c.head - c.written; room > 0 {
		take := int64(len(p))
		if take > room {
			take = room
		}
		if _, err := c.file.Write(p[:take]); err != nil {
			return 0, err
		}
		c.written += take
		p = p[take:]
	}
	c.seen += int64(len(p))
	if len(p) > len(c.ring) { // only the last len(ring) bytes can survive
		p = p[len(p)-len(c.ring):]
	}
	for len(p) > 0 {
		copied := copy(c.ring[c.next:], p)
		p = p[copied:]
		c.next += copied
		if c.next == len(c.ring) {
			c.next, c.filled = 0, true
		}
	}
	return n, nil
}

func (c *capped) close() error {
	tail := c.ring[:c.next]
	if c.filled {
		tail = append(append([]byte{}, c.ring[c.next:]...), c.ring[:c.next]...)
	}
	c.dropped = c.seen - int64(len(tail))
	if c.dropped > 0 {
		fmt.Fprintf(c.file, "\n[gxm: %d bytes of output dropped here: log capped]\n", c.dropped)
	}
	if _, err := c.file.Write(tail); err != nil {
		return err
	}
	return c.file.Close()
}

func newCapped(path string, limit int64) *capped {
	file, err := os.Create(path)
	if err != nil {
		fail(err)
	}
	half := limit / 2
	return &capped{file: file, head: half, ring: make([]byte, limit-half)}
}

func fail(err error) {
	fmt.Fprintf(os.Stderr, "gxmexec: %v\n", err)
	os.Exit(125)
}

func main() {
	if len(os.Args) < 4 {
		fail(errors.New("usage: gxmexec DIR LIMIT_BYTES PROGRAM [ARG...]"))
	}
	dir := os.Args[1]
	limit, err := strconv.ParseInt(os.Args[2], 10, 64)
	if err != nil || limit < 2 {
		fail(fmt.Errorf("bad limit %q", os.Args[2]))
	}
	stdout := newCapped(filepath.Join(dir, "stdout"), limit)
	stderr := newCapped(filepath.Join(dir, "stderr"), limit)
	cmd := exec.Command(os.Args[3], os.Args[4:]...)
	cmd.Stdin = nil
	outPipe, _ := cmd.StdoutPipe()
	errPipe, _ := cmd.StderrPipe()
	signals := make(chan os.Signal, 16)
	signal.Notify(signals)
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(stderr, "gxmexec: could not start %s: %v\n", os.Args[3], err)
		stderr.close()
		stdout.close()
		writeStatus(dir, map[string]any{"start_error": err.Error()})
		os.Exit(127)
	}
	go func() {
		for sig := range signals {
			if sig != syscall.SIGCHLD && sig != syscall.SIGURG {
				cmd.Process.Signal(sig)
			}
		}
	}()
	var copying sync.WaitGroup
	for _, pair := range []struct {
		to   io.Writer
		from io.Reader
	}{{stdout, outPipe}, {stderr, errPipe}} {
		copying.Add(1)
		go func(to io.Writer, from io.Reader) {
			defer copying.Done()
			io.Copy(to, from)
		}(pair.to, pair.from)
	}
	copying.Wait()
	cmd.Wait()
	stdout.close()
	stderr.close()
	status := map[string]any{"dropped": stdout.dropped + stderr.dropped}
	if usage, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok && usage.Maxrss > 0 {
		// the program's peak RSS (Linux: KiB), so gxm needs no engine stats call per run
		status["max_rss_bytes"] = usage.Maxrss * 1024
	}
	code := 0
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		status["signal"] = int(ws.Signal())
		code = 128 + int(ws.Signal())
	} else {
		code = cmd.ProcessState.ExitCode()
		status["exit_code"] = code
	}
	writeStatus(dir, status)
	os.Exit(code)
}

func writeStatus(dir string, status map[string]any) {
	data, _ := json.Marshal(status)
	tmp := filepath.Join(dir, ".status.tmp")
	if err := os.WriteFile(tmp, data, 0o644); err == nil {
		os.Rename(tmp, filepath.Join(dir, "status.json"))
	}
}

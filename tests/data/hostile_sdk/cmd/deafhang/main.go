// deafhang ignores SIGQUIT, SIGTERM and SIGINT and never finishes: only SIGKILL ends it, after
// the harness's grace period (outcome timeout, no goroutine dump).
package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	signal.Ignore(syscall.SIGQUIT, syscall.SIGTERM, syscall.SIGINT)
	fmt.Fprintln(os.Stderr, "deafhang: ignoring every polite signal")
	for {
		time.Sleep(time.Hour)
	}
}

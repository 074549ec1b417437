// threadbomb parks 4000 goroutines (a long goroutine dump), then blocks goroutines in raw
// syscalls until the runtime runs out of threads: `fatal error: thread exhaustion` at the top
// of megabytes of dump. SetMaxThreads keeps it from hurting the host.
package main

import (
	"runtime/debug"
	"syscall"
	"time"
)

func main() {
	block := make(chan struct{})
	for i := 0; i < 4000; i++ {
		go func() { <-block }()
	}
	time.Sleep(100 * time.Millisecond)
	debug.SetMaxThreads(64)
	for i := 0; i < 1000; i++ {
		go func() {
			var fds [2]int
			syscall.Pipe(fds[:])
			buf := make([]byte, 1)
			syscall.Read(fds[0], buf) // blocks in a syscall: one OS thread each
		}()
	}
	time.Sleep(time.Minute)
}

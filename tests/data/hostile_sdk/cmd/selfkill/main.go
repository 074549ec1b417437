// selfkill sends itself SIGKILL: a crash killed by SIGKILL on every backend.
package main

import (
	"os"
	"syscall"
	"time"
)

func main() {
	syscall.Kill(os.Getpid(), syscall.SIGKILL)
	time.Sleep(time.Minute)
}

// detach starts a grandchild that leaves the process group and the session (setsid) and
// sleeps for 10 minutes, reports its pid in the checks, and exits 0: the grandchild must still
// end with the run.
package main

import (
	"os"
	"os/exec"
	"syscall"
	"time"

	"example.com/hostile_sdk/internal/result"
)

func main() {
	if os.Getenv("HOSTILE_GRANDCHILD") == "1" {
		time.Sleep(10 * time.Minute)
		return
	}
	self, err := os.Executable()
	if err != nil {
		panic(err)
	}
	child := exec.Command(self)
	child.Env = append(os.Environ(), "HOSTILE_GRANDCHILD=1")
	child.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := child.Start(); err != nil {
		panic(err)
	}
	result.Write(map[string]any{"grandchild_pid": child.Process.Pid})
	// exit without waiting: the grandchild is reparented (to init, or to gxm as subreaper)
}

// hang never finishes (a worker blocked on a lock that is never released, main waiting on a
// timer loop so the runtime's deadlock detector does not end it): gxm must end it as `timeout`
// after SIGQUIT, keeping the goroutine dump in the run's stderr log.
package main

import (
	"fmt"
	"os"
	"sync"
	"time"
)

func main() {
	fmt.Fprintln(os.Stderr, "hang: waiting forever")
	var mu sync.Mutex
	mu.Lock()
	go func() {
		mu.Lock() // never acquired
	}()
	for {
		time.Sleep(time.Hour)
	}
}

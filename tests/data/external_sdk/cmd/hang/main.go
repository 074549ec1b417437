// hang blocks forever in a cgo-free select: gxm must end it as `timeout` after SIGQUIT,
// keeping the goroutine dump in the run's stderr log.
package main

import (
	"fmt"
	"os"
	"sync"
)

func main() {
	fmt.Fprintln(os.Stderr, "hang: waiting forever")
	var mu sync.Mutex
	done := make(chan struct{})
	go func() {
		mu.Lock()
		<-done
	}()
	<-done
}

// Command race_c_callback is an SDK that reports progress through a callback from C into Go, and a
// Go goroutine that reads and resets the same counter without any synchronisation: a data race
// between Go code and a C callback. The counter is only a statistic, so a plain build never
// fails: pass. Built with -race the race detector reports both stacks (exit status 66).
package main

/*
#include <stdint.h>

extern void goOnProgress(int64_t done);

// sdk_process "works" on n items and reports each one to the Go callback.
static void sdk_process(int64_t n) {
	for (int64_t i = 0; i < n; i++) goOnProgress(i);
}
*/
import "C"

import (
	"sync"
	"time"

	"gxm.dev/fixtures/internal/probe"
)

// progress is written by the C callback and read and reset by the monitor goroutine, unguarded.
var progress int64

//export goOnProgress
func goOnProgress(done C.int64_t) {
	progress += int64(done) & 1
}

// monitor samples the counter the way a status reporter would, without a lock: the race.
func monitor(stop <-chan struct{}, wg *sync.WaitGroup, samples *int64) {
	defer wg.Done()
	for {
		select {
		case <-stop:
			return
		default:
		}
		if progress > 1000 {
			progress = 0
		}
		*samples++
		time.Sleep(50 * time.Microsecond)
	}
}

func main() {
	duration := probe.Duration()
	p := probe.Start()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var samples, calls int64
	wg.Add(1)
	go monitor(stop, &wg, &samples)
	for end := time.Now().Add(duration); calls == 0 || time.Now().Before(end); calls++ {
		C.sdk_process(100)
	}
	close(stop)
	wg.Wait()
	p.Finish(map[string]any{"samples": samples}, calls)
}

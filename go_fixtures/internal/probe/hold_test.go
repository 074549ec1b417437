package probe

import (
	"runtime"
	"testing"
	"time"
)

var sink []byte

func TestHoldWaitsPastItsDurationForMinPauses(t *testing.T) {
	p := Start()
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { // a slow allocator: a few GC cycles a second at most
		defer close(done)
		for {
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
				sink = make([]byte, 256<<10)
			}
		}
	}()
	p.Hold(time.Millisecond)
	close(stop)
	<-done
	if got := p.pauseCounter()(); got < MinPauses {
		t.Fatalf("Hold returned with %d pauses since Start, want at least %d", got, MinPauses)
	}
}

func TestHoldLastsItsDurationWhenPausesAreThere(t *testing.T) {
	p := Start()
	for i := 0; i < MinPauses; i++ {
		runtime.GC() // at least one pause each
	}
	const d = 50 * time.Millisecond
	p.Hold(d)
	if elapsed := time.Since(p.start); elapsed < d {
		t.Fatalf("Hold returned after %v, want at least %v", elapsed, d)
	}
}

package probe

import (
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"time"
)

// MinPauses is the fewest GC pauses a bench run ends with (Hold). The harness pools the pause
// histograms of a cell's runs and reports a p99 only from 100 pauses or more; the nightly profile
// has 10 bench runs a cell, so 12 a run leaves room for a run that fails.
const MinPauses = 12

// holdPoll is how often Hold looks at the pause count.
const holdPoll = 5 * time.Millisecond

// Hold returns once d has passed since Start and the workload holds at least MinPauses GC pauses,
// or at the latest after 20 times d or 20 s since Start, whichever is longer (then the figures
// show how few pauses there were; 20 s stays inside the smoke profile's 30 s run timeout). A
// bench fixture runs its workload until Hold returns: a fixture with a large heap has only a few
// GC cycles a second, and a run on a busy machine fewer still, so a fixed duration alone left
// cells with too few pauses for a p99.
func (p *Probe) Hold(d time.Duration) {
	limit := max(20*d, 20*time.Second)
	if wait := d - time.Since(p.start); wait > 0 {
		time.Sleep(wait)
	}
	pauses := p.pauseCounter()
	for pauses() < MinPauses && time.Since(p.start) < limit {
		time.Sleep(holdPoll)
	}
}

// HoldWorkers runs work(w, stop) on n goroutines (w from 0) until Hold(d) returns, then sets
// stop and waits for every one of them to return: the workload of a bench fixture.
func (p *Probe) HoldWorkers(d time.Duration, n int, work func(w int, stop *atomic.Bool)) {
	var stop atomic.Bool
	var wg sync.WaitGroup
	for w := 0; w < n; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			work(w, &stop)
		}(w)
	}
	p.Hold(d)
	stop.Store(true)
	wg.Wait()
}

// pauseCounter returns a function counting the pauses since Start. It reads one sample over and
// over (runtime/metrics reuses its histogram), so polling it allocates nothing the workload's GC
// would see.
func (p *Probe) pauseCounter() func() uint64 {
	if p.pauseName == "" {
		return func() uint64 { return MinPauses } // nothing to wait for
	}
	sample := []metrics.Sample{{Name: p.pauseName}}
	before := sum(p.before[p.pauseName].Float64Histogram().Counts)
	return func() uint64 {
		metrics.Read(sample)
		return sum(sample[0].Value.Float64Histogram().Counts) - before
	}
}

func sum(counts []uint64) uint64 {
	var n uint64
	for _, c := range counts {
		n += c
	}
	return n
}

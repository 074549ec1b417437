// Package probe is the metrics probe every gxm fixture shares.
//
// A fixture calls Start before its workload and Finish after it. Finish writes exactly one JSON
// object to the file named by GXM_RESULT (nothing when it is unset), atomically, so the harness
// sees either a whole result or none:
//
//	{"schema":"gxm.fixture/1","runtime_version":"go1.22.10 X:arenas","metrics":{...},"checks":{...}}
//
// plus, optionally, "gc_pause_histogram": the workload's GC pauses as the non-empty buckets of
// the runtime/metrics histogram ({"bounds_ns":[[lower,upper],...],"counts":[...]}), so the
// harness can pool the pauses of many runs; metrics.gc_pauses is their number.
//
// The probe never writes to stdout or stderr except through Corrupt and fatal knob errors, so
// metrics never mix with crash output.
//
// Knobs (environment): GXM_DURATION (seconds, float, default 2), GXM_SEED (int, default 1),
// GXM_RESULT (path of the result file; unset means write nothing).
package probe

import (
	"fmt"
	"os"
	"runtime"
	"runtime/metrics"
	"strconv"
	"time"
)

// Schema is the value of the "schema" key of every result file.
const Schema = "gxm.fixture/1"

// CorruptExitCode is the exit status meaning "the fixture detected wrong data" (outcome corrupt).
const CorruptExitCode = 3

// usageExitCode is the exit status for a bad knob value: the fixture could not even start.
const usageExitCode = 2

// Metric names read from runtime/metrics. The pause histogram is chosen at run time from
// metrics.All(): /sched/pauses/total/gc:seconds exists from Go 1.22, /gc/pauses:seconds before.
const (
	pausesNew   = "/sched/pauses/total/gc:seconds"
	pausesOld   = "/gc/pauses:seconds"
	gcCycles    = "/gc/cycles/total:gc-cycles"
	cpuGC       = "/cpu/classes/gc/total:cpu-seconds"
	cpuTotal    = "/cpu/classes/total:cpu-seconds"
	heapLive    = "/gc/heap/live:bytes"
	heapAllocs  = "/gc/heap/allocs:bytes"
	defaultSeed = 1
)

// Duration is how long the fixture's workload should run (GXM_DURATION seconds, default 2).
func Duration() time.Duration {
	raw := os.Getenv("GXM_DURATION")
	if raw == "" {
		return 2 * time.Second
	}
	seconds, err := strconv.ParseFloat(raw, 64)
	if err != nil || seconds < 0 || seconds > 1e6 {
		usage("GXM_DURATION=%q is not a number of seconds >= 0", raw)
	}
	return time.Duration(seconds * float64(time.Second))
}

// Seed is the fixture's random seed (GXM_SEED, default 1), so a run can be repeated exactly.
func Seed() int64 {
	raw := os.Getenv("GXM_SEED")
	if raw == "" {
		return defaultSeed
	}
	seed, err := strconv.ParseInt(raw, 10, 64)
	if err != nil {
		usage("GXM_SEED=%q is not an integer", raw)
	}
	return seed
}

// Corrupt reports that the fixture detected wrong data: it prints "gxm: corrupt: <msg>" on
// stderr and exits with status 3, the harness's `corrupt` outcome. It does not return.
func Corrupt(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "gxm: corrupt: %s\n", fmt.Sprintf(format, args...))
	os.Exit(CorruptExitCode)
}

func usage(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "gxm: usage: %s\n", fmt.Sprintf(format, args...))
	os.Exit(usageExitCode)
}

// Probe holds the runtime/metrics snapshot taken by Start.
type Probe struct {
	start      time.Time
	pauseName  string
	names      []string
	before     map[string]metrics.Value
	resultPath string
}

// Start checks the knobs and snapshots runtime/metrics. Call it right before the workload.
func Start() *Probe {
	Duration() // fail on a bad knob before any work is done
	Seed()
	p := &Probe{resultPath: os.Getenv("GXM_RESULT")}
	p.pauseName, p.names = availableMetrics()
	p.before = readMetrics(p.names)
	p.start = time.Now()
	return p
}

// availableMetrics returns the pause histogram this runtime has and every metric name to read.
func availableMetrics() (string, []string) {
	have := map[string]bool{}
	for _, desc := range metrics.All() {
		have[desc.Name] = true
	}
	pause := ""
	if have[pausesNew] {
		pause = pausesNew
	} else if have[pausesOld] {
		pause = pausesOld
	}
	var names []string
	for _, name := range []string{pause, gcCycles, cpuGC, cpuTotal, heapLive, heapAllocs} {
		if name != "" && have[name] {
			names = append(names, name)
		}
	}
	return pause, names
}

// readMetrics samples names and returns values the caller owns (histograms are deep-copied,
// because metrics.Read may reuse their slices).
func readMetrics(names []string) map[string]metrics.Value {
	samples := make([]metrics.Sample, len(names))
	for i, name := range names {
		samples[i].Name = name
	}
	metrics.Read(samples)
	out := make(map[string]metrics.Value, len(samples))
	for _, s := range samples {
		out[s.Name] = s.Value
	}
	return out
}

// Finish computes the metrics of the workload since Start and writes the result file. ops is the
// fixture's own count of work done (trees built, calls made); checks are fixture-specific facts.
// A result file that cannot be written is reported on stderr with exit status 1.
func (p *Probe) Finish(checks map[string]any, ops int64) {
	wall := time.Since(p.start)
	after := readMetrics(p.names)
	m := p.delta(after)
	var pauses *sparseHistogram
	if p.pauseName != "" {
		h := histDelta(p.before[p.pauseName].Float64Histogram(), after[p.pauseName].Float64Histogram()).sparse()
		pauses = &h
	}
	m["ops"] = ops
	m["wall_ns"] = wall.Nanoseconds()
	if rss, ok := peakRSSBytes(); ok {
		m["peak_rss_bytes"] = rss
	}
	if checks == nil {
		checks = map[string]any{}
	}
	if p.resultPath == "" {
		return
	}
	result := map[string]any{
		"schema":          Schema,
		"runtime_version": runtime.Version(),
		"metrics":         m,
		"checks":          checks,
	}
	if pauses != nil {
		result["gc_pause_histogram"] = pauses
	}
	if err := writeJSONAtomic(p.resultPath, result); err != nil {
		fmt.Fprintf(os.Stderr, "gxm: result: %v\n", err)
		os.Exit(1)
	}
}

// delta turns the Start and Finish snapshots into the metrics of the result schema.
func (p *Probe) delta(after map[string]metrics.Value) map[string]any {
	m := map[string]any{}
	if p.pauseName != "" {
		pauses := histDelta(p.before[p.pauseName].Float64Histogram(), after[p.pauseName].Float64Histogram())
		m["gc_pause_p50_ns"] = secondsToNs(pauses.quantile(0.50))
		m["gc_pause_p99_ns"] = secondsToNs(pauses.quantile(0.99))
		m["gc_pause_max_ns"] = secondsToNs(pauses.max())
		m["gc_pauses"] = pauses.total()
	}
	if v, ok := uintDelta(p.before, after, gcCycles); ok {
		m["gc_cycles"] = v
	}
	if v, ok := uintDelta(p.before, after, heapAllocs); ok {
		m["alloc_bytes"] = v
	}
	if v, ok := after[heapLive]; ok {
		m["heap_live_bytes"] = v.Uint64()
	}
	if gc, okGC := floatDelta(p.before, after, cpuGC); okGC {
		if total, okTotal := floatDelta(p.before, after, cpuTotal); okTotal {
			m["gc_cpu_fraction"] = fraction(gc, total)
		}
	}
	return m
}

func uintDelta(before, after map[string]metrics.Value, name string) (uint64, bool) {
	a, ok := after[name]
	if !ok {
		return 0, false
	}
	b := before[name].Uint64()
	if a.Uint64() < b {
		return 0, true
	}
	return a.Uint64() - b, true
}

func floatDelta(before, after map[string]metrics.Value, name string) (float64, bool) {
	a, ok := after[name]
	if !ok {
		return 0, false
	}
	return a.Float64() - before[name].Float64(), true
}

// fraction is part/whole clamped to [0, 1]; 0 when nothing was measured.
func fraction(part, whole float64) float64 {
	if whole <= 0 || part <= 0 {
		return 0
	}
	if part >= whole {
		return 1
	}
	return part / whole
}

func secondsToNs(seconds float64) int64 {
	return int64(seconds*1e9 + 0.5)
}

package probe

import (
	"math"
	"runtime/metrics"
)

// histogram is the difference of two runtime/metrics histograms of the same metric: the events
// recorded between Start and Finish only.
//
// Quantiles are reported as the UPPER bound of the bucket that holds the requested rank, so a
// reported pause is never shorter than the real one (the runtime's time buckets are a quarter of
// a power of two wide, so the overestimate is at most 25%). A bucket whose upper bound is +Inf
// has no finite upper bound; it is reported as its finite lower bound instead. A bucket with no
// finite bound at all reports 0.
type histogram struct {
	counts  []uint64
	buckets []float64 // len(buckets) == len(counts)+1; bucket i is [buckets[i], buckets[i+1])
}

// histDelta subtracts before from after. Both come from the same metric in the same process, so
// their bucket boundaries are identical; a nil before (no snapshot) means "from zero".
func histDelta(before, after *metrics.Float64Histogram) histogram {
	h := histogram{counts: make([]uint64, len(after.Counts)), buckets: after.Buckets}
	for i, c := range after.Counts {
		if before != nil && i < len(before.Counts) && before.Counts[i] <= c {
			c -= before.Counts[i]
		}
		h.counts[i] = c
	}
	return h
}

func (h histogram) total() uint64 {
	var n uint64
	for _, c := range h.counts {
		n += c
	}
	return n
}

// quantile returns the q-quantile (0 < q <= 1) by the rule documented on histogram; 0 when the
// histogram is empty.
func (h histogram) quantile(q float64) float64 {
	total := h.total()
	if total == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(total)))
	if rank < 1 {
		rank = 1
	}
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return h.bucketValue(i)
		}
	}
	return h.bucketValue(len(h.counts) - 1)
}

// max returns the value of the highest non-empty bucket; 0 when the histogram is empty.
func (h histogram) max() float64 {
	for i := len(h.counts) - 1; i >= 0; i-- {
		if h.counts[i] > 0 {
			return h.bucketValue(i)
		}
	}
	return 0
}

func (h histogram) bucketValue(i int) float64 {
	upper := h.buckets[i+1]
	if !math.IsInf(upper, 0) {
		return upper
	}
	lower := h.buckets[i]
	if !math.IsInf(lower, 0) {
		return lower
	}
	return 0
}

// sparseHistogram is the JSON form of a pause histogram in a result file: only the non-empty
// buckets, each as its [lower, upper) bounds in nanoseconds (null for an infinite bound) and its
// count. Histograms of one binary share their buckets, so the harness can add them up run by run.
type sparseHistogram struct {
	BoundsNs [][2]*int64 `json:"bounds_ns"`
	Counts   []uint64    `json:"counts"`
}

// sparse returns the non-empty buckets of h.
func (h histogram) sparse() sparseHistogram {
	out := sparseHistogram{BoundsNs: [][2]*int64{}, Counts: []uint64{}}
	for i, c := range h.counts {
		if c == 0 {
			continue
		}
		out.BoundsNs = append(out.BoundsNs, [2]*int64{boundNs(h.buckets[i]), boundNs(h.buckets[i+1])})
		out.Counts = append(out.Counts, c)
	}
	return out
}

func boundNs(seconds float64) *int64 {
	if math.IsInf(seconds, 0) {
		return nil
	}
	ns := secondsToNs(seconds)
	return &ns
}

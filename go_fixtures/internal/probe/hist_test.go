package probe

import (
	"encoding/json"
	"math"
	"runtime/metrics"
	"testing"
)

func hist(buckets []float64, counts ...uint64) *metrics.Float64Histogram {
	return &metrics.Float64Histogram{Buckets: buckets, Counts: counts}
}

func TestQuantileIsUpperBucketBound(t *testing.T) {
	buckets := []float64{math.Inf(-1), 1e-6, 2e-6, 4e-6, math.Inf(1)}
	h := histDelta(nil, hist(buckets, 0, 98, 1, 1))
	if got := h.quantile(0.5); got != 2e-6 {
		t.Fatalf("p50 = %v, want 2e-6", got)
	}
	if got := h.quantile(0.99); got != 4e-6 {
		t.Fatalf("p99 = %v, want 4e-6 (upper bound of the third bucket)", got)
	}
	if got := h.max(); got != 4e-6 {
		t.Fatalf("max = %v, want the finite lower bound 4e-6 of the +Inf bucket", got)
	}
}

func TestDeltaCountsOnlyNewEvents(t *testing.T) {
	buckets := []float64{0, 1, 2, 3}
	h := histDelta(hist(buckets, 5, 0, 0), hist(buckets, 5, 0, 2))
	if h.total() != 2 || h.quantile(0.5) != 3 {
		t.Fatalf("delta = %v, want only the 2 new events in [2,3)", h.counts)
	}
}

func TestEmptyHistogramIsZero(t *testing.T) {
	h := histDelta(nil, hist([]float64{math.Inf(-1), math.Inf(1)}, 0))
	if h.quantile(0.99) != 0 || h.max() != 0 {
		t.Fatal("an empty histogram must report 0")
	}
	h = histDelta(nil, hist([]float64{math.Inf(-1), math.Inf(1)}, 3))
	if h.max() != 0 {
		t.Fatal("a bucket with no finite bound must report 0")
	}
}

func TestFractionClamps(t *testing.T) {
	cases := []struct{ part, whole, want float64 }{{1, 4, 0.25}, {5, 4, 1}, {1, 0, 0}, {-1, 4, 0}}
	for _, c := range cases {
		if got := fraction(c.part, c.whole); got != c.want {
			t.Errorf("fraction(%v, %v) = %v, want %v", c.part, c.whole, got, c.want)
		}
	}
}

func TestSparseHistogramKeepsNonEmptyBucketsInNanoseconds(t *testing.T) {
	buckets := []float64{math.Inf(-1), 1e-6, 2e-6, 4e-6, math.Inf(1)}
	data, err := json.Marshal(histDelta(nil, hist(buckets, 0, 98, 0, 2)).sparse())
	if err != nil {
		t.Fatal(err)
	}
	want := `{"bounds_ns":[[1000,2000],[4000,null]],"counts":[98,2]}`
	if string(data) != want {
		t.Fatalf("sparse = %s, want %s", data, want)
	}
}

package cgoptr

import "testing"

var kept [][]byte // the buffers live on the Go heap

func TestBeforeTheStore(t *testing.T) {}

func TestStoreGoPointerInC(t *testing.T) {
	data := make([]byte, 64)
	kept = append(kept, data)
	for i := range data {
		data[i] = 1
	}
	if got := SumViaSlot(data); got != 64 {
		t.Fatalf("sum = %d, want 64", got)
	}
}

//go:build goexperiment.arenas

package arena

import "testing"

func TestReadsFreedArena(t *testing.T) {
	values := Buffer(1 << 16)
	if values[0] != 7 { // a read of freed arena memory: the runtime faults
		t.Errorf("values[0] = %d", values[0])
	}
}

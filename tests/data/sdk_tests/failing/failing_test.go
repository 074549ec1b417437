// Package failing has one test that passes and one that reports a failure everywhere.
package failing

import "testing"

func TestAddsUp(t *testing.T) {
	if 2+2 != 4 {
		t.Fatal("arithmetic is broken")
	}
}

func TestReportsWrongVersion(t *testing.T) {
	t.Errorf("SDK version = %q, want %q", "1.0.0", "2.0.0")
}

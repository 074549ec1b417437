package otheros

import "testing"

func TestOnWindows(t *testing.T) {
	if Name != "otheros" {
		t.Fatal(Name)
	}
}

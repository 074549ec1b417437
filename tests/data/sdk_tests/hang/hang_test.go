package hang

import "testing"

func TestQuick(t *testing.T) {}

func TestWaitsInC(t *testing.T) {
	WaitForDevice()
}

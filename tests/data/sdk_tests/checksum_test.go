package cgosdk

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"testing"
)

func TestChecksumOfWikipedia(t *testing.T) {
	if got := Checksum([]byte("Wikipedia")); got != 0x11E60398 {
		t.Fatalf("Checksum(Wikipedia) = %#x, want 0x11e60398", got)
	}
}

// TestGolden reads testdata/ relative to the package directory, as `go test` runs it.
func TestGolden(t *testing.T) {
	raw, err := os.ReadFile("testdata/golden.txt")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		text, want, _ := strings.Cut(line, " ")
		sum, err := strconv.ParseUint(want, 16, 32)
		if err != nil {
			t.Fatalf("bad golden line %q", line)
		}
		if got := Checksum([]byte(text)); got != uint32(sum) {
			t.Errorf("Checksum(%q) = %08x, want %s", text, got, want)
		}
	}
}

func TestReverseUsesTheSecondModule(t *testing.T) {
	data := []byte("abc")
	if ReverseChecksum(data) != Checksum([]byte("cba")) {
		t.Error("ReverseChecksum(abc) != Checksum(cba)")
	}
	if !bytes.Equal(data, []byte("abc")) {
		t.Error("input changed")
	}
}

func BenchmarkChecksum4K(b *testing.B) {
	data := bytes.Repeat([]byte("gxm"), 4096/3)
	b.SetBytes(int64(len(data)))
	calls := 0
	for i := 0; i < b.N; i++ {
		Checksum(data)
		calls++
	}
	b.ReportMetric(float64(calls)/float64(b.N), "cgocalls/op")
}

func BenchmarkReverseChecksum(b *testing.B) {
	data := bytes.Repeat([]byte("x"), 256)
	for i := 0; i < b.N; i++ {
		ReverseChecksum(data)
	}
	b.ReportMetric(256, "bytes/call")
}

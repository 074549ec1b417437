//go:build !cgo

package checksum

// Implementation says which implementation this build uses.
const Implementation = "purego"

// Sum is the FNV-1a sum of data, computed in Go.
func Sum(data []byte) uint64 {
	h := uint64(1469598103934665603)
	for _, b := range data {
		h ^= uint64(b)
		h *= 1099511628211
	}
	return h
}

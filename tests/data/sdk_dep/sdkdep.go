// Package sdkdep is the second module the test SDK requires; tests serve it through a file://
// GOPROXY they build from this directory (it is never fetched from the network).
package sdkdep

// Reverse returns b reversed (a new slice).
func Reverse(b []byte) []byte {
	out := make([]byte, len(b))
	for i, c := range b {
		out[len(b)-1-i] = c
	}
	return out
}

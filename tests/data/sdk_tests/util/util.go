// Package util has no tests: gxm lists it as a package without test files.
package util

// Clamp limits v to [lo, hi].
func Clamp(v, lo, hi int) int {
	return min(max(v, lo), hi)
}

// Package failing exists for its tests.
package failing

// Package arenareq is the request model of the arena fixtures: SDK request batches (a linked
// list of requests with headers and a body) allocated either in an arena or on the heap, and
// checked byte by byte. Everything but this file needs GOEXPERIMENT=arenas (the `arena` package
// exists only then); this file keeps the package non-empty in other builds.
package arenareq

//go:build goexperiment.arenas

package arenareq

import (
	"arena"
	"math/rand"

	"gxm.dev/fixtures/internal/cmem"
	"gxm.dev/fixtures/internal/probe"
)

// Header is one request header.
type Header struct {
	Key, Value []byte
}

// Request is one SDK request: pointerful (headers, body, next), like real request structs.
type Request struct {
	ID      int64
	Seed    uint32
	Headers []Header
	Body    []byte
	Next    *Request
}

// Build allocates a batch of n requests in a, or on the heap when a is nil, each with 4 headers
// and a body of 64..2111 bytes filled with the request's pattern. It returns the first request.
func Build(a *arena.Arena, rng *rand.Rand, n int, firstID int64) *Request {
	var head *Request
	for i := 0; i < n; i++ {
		r := newRequest(a)
		r.ID, r.Seed = firstID+int64(i), rng.Uint32()
		r.Headers = makeHeaders(a, 4)
		for h := range r.Headers {
			r.Headers[h].Key = makeBytes(a, 16)
			r.Headers[h].Value = makeBytes(a, 48)
			cmem.FillGo(r.Headers[h].Key, r.Seed+uint32(2*h))
			cmem.FillGo(r.Headers[h].Value, r.Seed+uint32(2*h+1))
		}
		r.Body = makeBytes(a, 64+rng.Intn(2048))
		cmem.FillGo(r.Body, r.Seed)
		r.Next = head
		head = r
	}
	return head
}

// Verify checks every byte of every request of the batch and that it has n requests; a
// difference is reported as corrupt data (exit status 3). It returns the body bytes seen.
func Verify(head *Request, n int, what string) int64 {
	count, bytes := 0, int64(0)
	for r := head; r != nil; r = r.Next {
		count++
		checkBytes(r.Body, r.Seed, r.ID, what, "body")
		for h := range r.Headers {
			checkBytes(r.Headers[h].Key, r.Seed+uint32(2*h), r.ID, what, "header key")
			checkBytes(r.Headers[h].Value, r.Seed+uint32(2*h+1), r.ID, what, "header value")
		}
		bytes += int64(len(r.Body))
	}
	if count != n {
		probe.Corrupt("%s: batch has %d requests, want %d", what, count, n)
	}
	return bytes
}

func checkBytes(b []byte, seed uint32, id int64, what, part string) {
	for i, v := range b {
		if v != cmem.PatternByte(seed, i) {
			probe.Corrupt("%s: request %d %s byte %d changed", what, id, part, i)
		}
	}
}

func newRequest(a *arena.Arena) *Request {
	if a == nil {
		return new(Request)
	}
	return arena.New[Request](a)
}

func makeHeaders(a *arena.Arena, n int) []Header {
	if a == nil {
		return make([]Header, n)
	}
	return arena.MakeSlice[Header](a, n, n)
}

func makeBytes(a *arena.Arena, n int) []byte {
	if a == nil {
		return make([]byte, n)
	}
	return arena.MakeSlice[byte](a, n, n)
}

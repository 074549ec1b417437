//go:build goexperiment.arenas

// Command arena_holds_heap_pointer checks that the GC still scans arena memory: SDK session
// objects are allocated in an arena and hold the only pointers to heap-allocated buffers. Many
// GC cycles run (with heap garbage of the buffers' size, so freed buffers would be reused at
// once) before the arena is freed. Each heap buffer carries a finalizer: one that runs while
// its arena is still live means the GC freed an object still referenced from the arena; a
// changed byte means its memory was reused. Either exits with status 3 (outcome corrupt).
// Expected: pass wherever arenas exist.
package main

import (
	"arena"
	"math/rand"
	"runtime"
	"sync/atomic"
	"time"

	"gxm.dev/fixtures/internal/cmem"
	"gxm.dev/fixtures/internal/probe"
)

const (
	sessionsPerArena = 256
	cyclesPerArena   = 4
	bufferBytes      = 512
)

// buffer is heap memory; the only pointer to it is in an arena-allocated session.
type buffer struct {
	data  [bufferBytes]byte
	seed  uint32
	round int64
}

type session struct {
	id   int64
	buf  *buffer
	next *session
}

var currentRound, collectedLive atomic.Int64

func main() {
	duration, seed := probe.Duration(), probe.Seed()
	p := probe.Start()
	rng := rand.New(rand.NewSource(seed))
	deadline := time.Now().Add(duration)
	var rounds, cycles int64
	var garbage []*buffer
	for time.Now().Before(deadline) {
		rounds++
		currentRound.Store(rounds)
		a := arena.NewArena()
		head := build(a, rng, rounds)
		for c := 0; c < cyclesPerArena; c++ {
			garbage = churn(garbage)
			runtime.GC()
			cycles++
			if n := collectedLive.Load(); n > 0 {
				probe.Corrupt("%d heap buffers referenced only from a live arena were finalized "+
					"(the GC did not see the arena's pointers)", n)
			}
			verify(head)
		}
		currentRound.Store(0) // from here on the buffers may be collected
		head = nil
		a.Free()
	}
	runtime.KeepAlive(garbage)
	p.Finish(map[string]any{
		"rounds":             rounds,
		"sessions":           rounds * sessionsPerArena,
		"forced_gcs":         cycles,
		"collected_live":     collectedLive.Load(),
		"sessions_per_arena": sessionsPerArena,
	}, rounds*sessionsPerArena)
}

// build allocates the sessions of one round in a and gives each a fresh heap buffer.
func build(a *arena.Arena, rng *rand.Rand, round int64) *session {
	var head *session
	for i := 0; i < sessionsPerArena; i++ {
		b := &buffer{seed: rng.Uint32(), round: round}
		cmem.FillGo(b.data[:], b.seed)
		runtime.SetFinalizer(b, func(b *buffer) {
			if b.round == currentRound.Load() {
				collectedLive.Add(1)
			}
		})
		s := arena.New[session](a)
		s.id, s.buf, s.next = int64(i), b, head
		head = s
	}
	return head
}

func verify(head *session) {
	n := 0
	for s := head; s != nil; s = s.next {
		n++
		for i, v := range s.buf.data {
			if v != cmem.PatternByte(s.buf.seed, i) {
				probe.Corrupt("heap buffer of session %d: byte %d changed while the arena "+
					"referencing it was live", s.id, i)
			}
		}
	}
	if n != sessionsPerArena {
		probe.Corrupt("arena session list has %d sessions, want %d", n, sessionsPerArena)
	}
}

// churn drops the previous garbage and allocates new buffers of the same size class.
func churn(garbage []*buffer) []*buffer {
	garbage = garbage[:0]
	for i := 0; i < 2*sessionsPerArena; i++ {
		b := &buffer{}
		for j := range b.data {
			b.data[j] = 0xEE
		}
		garbage = append(garbage, b)
	}
	return garbage
}

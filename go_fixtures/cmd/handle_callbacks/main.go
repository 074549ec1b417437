// Command handle_callbacks stands for an event-driven C SDK: Go registers sessions as
// runtime/cgo.Handle values (the legal way to give C a reference to a Go object), and C threads
// the SDK starts itself call back into Go with those handles, several at once, while the GC runs.
// Every callback resolves its handle, checks the session's Go-side data and answers the
// session's tag, which C compares; counts are reconciled at the end. A wrong tag, count or byte
// exits with status 3 (outcome corrupt). Expected: pass everywhere.
package main

/*
#include "sdk.h"
*/
import "C"

import (
	"math/rand"
	"runtime"
	"runtime/cgo"
	"sync/atomic"
	"time"
	"unsafe"

	"gxm.dev/fixtures/internal/cmem"
	"gxm.dev/fixtures/internal/probe"
)

const (
	sessionsPerRound = 32
	threadsPerRound  = 4
	callsPerThread   = 256
)

// session is the Go object behind a handle.
type session struct {
	tag   int64
	seed  uint32
	data  []byte
	calls atomic.Int64
}

var callbacks atomic.Int64

//export goSessionEvent
func goSessionEvent(h C.uintptr_t, seq C.int64_t) C.int64_t {
	s, ok := cgo.Handle(h).Value().(*session)
	if !ok {
		probe.Corrupt("handle %#x does not hold a session", uintptr(h))
	}
	s.calls.Add(1)
	callbacks.Add(1)
	i := int(seq) % len(s.data)
	if s.data[i] != cmem.PatternByte(s.seed, i) {
		probe.Corrupt("session %d: byte %d changed", s.tag, i)
	}
	_ = make([]byte, 256) // callbacks allocate, so GC work overlaps them
	return C.int64_t(s.tag)
}

func main() {
	duration, seed := probe.Duration(), probe.Seed()
	p := probe.Start()
	rng := rand.New(rand.NewSource(seed))
	deadline := time.Now().Add(duration)
	stop := make(chan struct{})
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
				runtime.GC()
			}
		}
	}()
	var rounds, nextTag int64
	for time.Now().Before(deadline) {
		round(rng, &nextTag)
		rounds++
	}
	close(stop)
	p.Finish(map[string]any{
		"rounds":    rounds,
		"sessions":  nextTag,
		"threads":   threadsPerRound,
		"callbacks": callbacks.Load(),
	}, callbacks.Load())
}

// round registers sessions, lets C threads call back with their handles, then reconciles.
func round(rng *rand.Rand, nextTag *int64) {
	sessions := make([]*session, sessionsPerRound)
	handles := make([]C.uintptr_t, sessionsPerRound)
	tags := make([]C.int64_t, sessionsPerRound)
	for i := range sessions {
		*nextTag++
		s := &session{tag: *nextTag, seed: rng.Uint32(), data: make([]byte, 64+rng.Intn(1024))}
		cmem.FillGo(s.data, s.seed)
		sessions[i] = s
		handles[i] = C.uintptr_t(cgo.NewHandle(s))
		tags[i] = C.int64_t(s.tag)
	}
	mismatches := C.sdk_dispatch((*C.uintptr_t)(unsafe.Pointer(&handles[0])),
		(*C.int64_t)(unsafe.Pointer(&tags[0])), sessionsPerRound, threadsPerRound, callsPerThread)
	if mismatches != 0 {
		probe.Corrupt("C saw %d callbacks answer the wrong session tag (or could not start threads)",
			int64(mismatches))
	}
	var total int64
	for i, s := range sessions {
		total += s.calls.Load()
		cgo.Handle(handles[i]).Delete()
	}
	if want := int64(threadsPerRound * callsPerThread); total != want {
		probe.Corrupt("sessions saw %d callbacks, C made %d", total, want)
	}
}

// Command gc_short_cycles is a GC pause benchmark: a small live set and a high allocation rate,
// so the collector runs a thousand or more short cycles a second and every run holds thousands of
// stop-the-world pauses. What it measures is the cost of stopping and restarting the world
// itself, with little marking behind it; the pooled p99 of its pauses rests on tens of pauses
// where other bench fixtures give it a handful. GOMAXPROCS workers each allocate messages (a
// small header pointing at a 4 KiB payload whose every 64th byte carries a pattern of the
// message's number) and keep the latest 16 in a ring; every message leaving the ring must still
// hold its pattern. The run lasts GXM_DURATION and on until it holds probe.MinPauses GC pauses.
// ops = messages allocated. A message with a wrong byte exits with status 3 (outcome corrupt).
package main

import (
	"runtime"
	"sync/atomic"

	"gxm.dev/fixtures/internal/probe"
)

const (
	payloadBytes = 4 << 10 // per message: large enough that allocation outpaces marking
	ringSize     = 16      // per worker: the live messages
)

type message struct {
	number  uint64
	payload []byte
	next    *message // the previous message of the same worker: a pointer for the GC to follow
}

func main() {
	duration, seed := probe.Duration(), probe.Seed()
	p := probe.Start()
	workers := runtime.GOMAXPROCS(0)

	var messages atomic.Int64
	p.HoldWorkers(duration, workers, func(w int, stop *atomic.Bool) {
		messages.Add(work(uint64(seed)+uint64(w)<<48, stop))
	})

	p.Finish(map[string]any{
		"workers":       workers,
		"messages":      messages.Load(),
		"payload_bytes": payloadBytes,
	}, messages.Load())
}

// work allocates messages numbered from first until stop, checks each one as it leaves the ring
// (and the ring at the end), and returns how many it allocated.
func work(first uint64, stop *atomic.Bool) int64 {
	var ring [ringSize]*message
	var last *message
	number := first
	for !stop.Load() {
		m := &message{number: number, payload: make([]byte, payloadBytes), next: last}
		fill(m)
		slot := number % ringSize
		if old := ring[slot]; old != nil {
			mustCheck(old)
		}
		ring[slot], last = m, m
		if last.next != nil {
			last.next.next = nil // keep the chain one link long: the ring is the live set
		}
		number++
	}
	for _, m := range ring {
		if m != nil {
			mustCheck(m)
		}
	}
	return int64(number - first)
}

// stride is the distance between the payload bytes that carry the pattern: one a cache line, so
// filling a message costs little next to allocating it (the rest stays as allocated: zero).
const stride = 64

// fill writes the message's pattern: every stride-th byte is derived from its number and position.
func fill(m *message) {
	for i := 0; i < len(m.payload); i += stride {
		m.payload[i] = pattern(m.number, i)
	}
}

// pattern is the byte fill writes at position i (a multiple of stride) of message number.
func pattern(number uint64, i int) byte {
	return byte(number) ^ byte(i/stride) ^ 0x5a
}

// mustCheck reports corruption when a pattern byte of the payload is not what fill wrote.
func mustCheck(m *message) {
	if len(m.payload) != payloadBytes {
		probe.Corrupt("message %d has a payload of %d bytes, want %d", m.number, len(m.payload), payloadBytes)
	}
	for i := 0; i < len(m.payload); i += stride {
		if b := m.payload[i]; b != pattern(m.number, i) {
			probe.Corrupt("message %d: payload byte %d is %#x, want %#x", m.number, i, b, pattern(m.number, i))
		}
	}
}

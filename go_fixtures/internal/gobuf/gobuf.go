// Package gobuf is the shared driver of the fixtures that pass Go heap buffers to C for the
// duration of one call (gobuf_to_c, gobuf_to_c_no_keepalive, gobuf_to_c_uintptr).
//
// Each buffer gets a finalizer on its first byte that notes when it runs while the C call is still
// reading the buffer (the buffer was collected mid-call). "Still reading" is a slot in C memory
// holding the buffer's id, which Begin sets and the C function itself clears as its last step, so
// a collection after C is done (legal: nothing uses the buffer then) is never counted. C also
// checksums the buffer again and again during the call, so memory reused by later allocations
// shows up as a wrong checksum. Either is reported as corrupt data (exit status 3). The fixtures
// differ only in how the call site hands the buffer to C and what it does after the call.
package gobuf

import (
	"math/rand"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"gxm.dev/fixtures/internal/cmem"
	"gxm.dev/fixtures/internal/probe"
)

// CallLength is how long one C call reads its buffer.
const CallLength = 2 * time.Millisecond

const (
	maxBufferBytes = 8192
	busySlots      = 1 << 16
)

// Buffer is one Go heap buffer about to be handed to C.
type Buffer struct {
	Data []byte
	ID   int64
	Seed uint32
}

var (
	created, finalized, calls, collectedInFlight atomic.Int64
	// busy is C memory: slot id%busySlots holds id while C reads buffer id (C clears it).
	busy = cmem.Int64s(busySlots)
)

// New allocates a buffer of random size filled with a seeded pattern, with a finalizer on its
// first byte that notes a collection during a C call.
func New(rng *rand.Rand) Buffer {
	b := Buffer{Data: make([]byte, 64+rng.Intn(maxBufferBytes)), ID: created.Add(1), Seed: rng.Uint32()}
	cmem.FillGo(b.Data, b.Seed)
	id := b.ID
	runtime.SetFinalizer(&b.Data[0], func(*byte) {
		if atomic.LoadInt64(&busy[id%busySlots]) == id {
			collectedInFlight.Add(1)
		}
		finalized.Add(1)
	})
	return b
}

// Begin marks buffer id as read by C and returns the C slot (an int64) the C function must set
// to 0 as its last step.
func Begin(id int64) unsafe.Pointer {
	slot := &busy[id%busySlots]
	atomic.StoreInt64(slot, id)
	return unsafe.Pointer(slot)
}

// End checks what C computed over buffer id: a checksum different from the pattern's means the
// buffer changed under C.
func End(id int64, size int, seed uint32, checksum uint64) {
	calls.Add(1)
	if want := cmem.ExpectedChecksum(size, seed); checksum != want {
		probe.Corrupt("Go buffer %d (%d bytes) changed during a cgo call: checksum %#x, want %#x "+
			"(%d buffers collected during a call so far)", id, size, checksum, want,
			collectedInFlight.Load())
	}
}

// Run is the fixture: 2×GOMAXPROCS workers call `call` for GXM_DURATION while allocating Go
// garbage, and a goroutine forces GC cycles back to back, so collections happen during C calls.
func Run(call func(rng *rand.Rand)) {
	duration, seed := probe.Duration(), probe.Seed()
	p := probe.Start()
	deadline := time.Now().Add(duration)
	workers := 2 * runtime.GOMAXPROCS(0)
	stop := make(chan struct{})
	var forced atomic.Int64
	var gcWG, wg sync.WaitGroup
	gcWG.Add(1)
	go func() {
		defer gcWG.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			runtime.GC()
			forced.Add(1)
			time.Sleep(200 * time.Microsecond)
		}
	}()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			rng := rand.New(rand.NewSource(seed + int64(w)))
			garbage := make([][]byte, 64)
			for i := 0; time.Now().Before(deadline); i++ {
				call(rng)
				garbage[i%len(garbage)] = make([]byte, 64+rng.Intn(maxBufferBytes))
			}
		}(w)
	}
	wg.Wait()
	close(stop)
	gcWG.Wait()
	if n := collectedInFlight.Load(); n > 0 {
		probe.Corrupt("%d Go buffers were collected while a cgo call was reading them", n)
	}
	p.Finish(map[string]any{
		"workers":                     workers,
		"buffers":                     created.Load(),
		"buffers_finalized":           finalized.Load(),
		"buffers_collected_in_flight": collectedInFlight.Load(),
		"forced_gcs":                  forced.Load(),
	}, calls.Load())
}

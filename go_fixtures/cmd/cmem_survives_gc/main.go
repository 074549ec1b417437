// Command cmem_survives_gc checks that C memory nothing in Go owns survives garbage collection:
// blocks C.malloc'd and referenced only from a C table, and C.CString / C.malloc results that Go
// keeps as bare pointers (no Go object, no finalizer bound to them). Many GC cycles run (forced
// and from Go garbage) while other C memory is malloc'd and freed, so memory the GC had wrongly
// released would be handed out again and overwritten. Every block and string is verified after
// every forced cycle; a changed byte exits with status 3 (outcome corrupt).
package main

/*
#include <stdint.h>
#include <stdlib.h>

#define TABLE_SLOTS 256

// The SDK's own registry: C memory only C points to.
static uint8_t *table[TABLE_SLOTS];
static size_t table_sizes[TABLE_SLOTS];
static uint32_t table_seeds[TABLE_SLOTS];

static inline uint8_t pattern(uint32_t seed, size_t i) {
	uint32_t x = (seed ^ ((uint32_t)i * 0x9E3779B1u)) * 0x85EBCA6Bu;
	return (uint8_t)(x >> 24);
}

static void table_fill(uint32_t seed) {
	for (int s = 0; s < TABLE_SLOTS; s++) {
		size_t n = 32 + (size_t)((seed + 7919u * (uint32_t)s) % 4096u);
		table[s] = malloc(n);
		table_sizes[s] = n;
		table_seeds[s] = seed + (uint32_t)s;
		for (size_t i = 0; i < n; i++) table[s][i] = pattern(table_seeds[s], i);
	}
}

// The first slot whose block does not hold its pattern, or -1.
static int table_verify(void) {
	for (int s = 0; s < TABLE_SLOTS; s++) {
		for (size_t i = 0; i < table_sizes[s]; i++) {
			if (table[s][i] != pattern(table_seeds[s], i)) return s;
		}
	}
	return -1;
}

static void table_free(void) {
	for (int s = 0; s < TABLE_SLOTS; s++) { free(table[s]); table[s] = NULL; }
}
*/
import "C"

import (
	"fmt"
	"math/rand"
	"runtime"
	"time"
	"unsafe"

	"gxm.dev/fixtures/internal/cmem"
	"gxm.dev/fixtures/internal/probe"
)

const (
	goHeldBlocks  = 256
	goHeldStrings = 256
	churnBlocks   = 64
	forcedGCEvery = 10 * time.Millisecond
)

// bareBlock is C memory Go holds as a bare pointer: no owner object, no finalizer.
type bareBlock struct {
	ptr  unsafe.Pointer
	size int
	seed uint32
}

func main() {
	duration, seed := probe.Duration(), probe.Seed()
	p := probe.Start()
	rng := rand.New(rand.NewSource(seed))
	C.table_fill(C.uint32_t(rng.Uint32()))
	blocks := make([]bareBlock, goHeldBlocks)
	for i := range blocks {
		size := 32 + rng.Intn(4096)
		blocks[i] = bareBlock{cmem.Malloc(size), size, rng.Uint32()}
		cmem.Fill(blocks[i].ptr, size, blocks[i].seed)
	}
	texts := make([]string, goHeldStrings)
	strs := make([]*C.char, goHeldStrings)
	for i := range strs {
		texts[i] = fmt.Sprintf("sdk-string-%d-%08x", i, rng.Uint32())
		strs[i] = C.CString(texts[i])
	}
	texts = append([]string(nil), texts...) // the Go copies share nothing with the C strings

	var garbage [][]byte
	var forced, verifications, churned int64
	deadline := time.Now().Add(duration)
	for next := time.Now(); time.Now().Before(deadline); {
		garbage = append(garbage, make([]byte, 1024+rng.Intn(16384)))
		if len(garbage) > 512 {
			garbage = garbage[:0]
		}
		if time.Now().Before(next) {
			continue
		}
		runtime.GC()
		forced++
		churned += churn(rng)
		verify(blocks, strs, texts)
		verifications++
		next = time.Now().Add(forcedGCEvery)
	}
	runtime.GC()
	verify(blocks, strs, texts)
	verifications++
	for i := range blocks {
		cmem.Release(blocks[i].ptr, blocks[i].size)
	}
	for _, s := range strs {
		C.free(unsafe.Pointer(s))
	}
	C.table_free()
	runtime.KeepAlive(garbage)
	p.Finish(map[string]any{
		"c_table_blocks":  int(C.TABLE_SLOTS),
		"go_held_blocks":  goHeldBlocks,
		"go_held_strings": goHeldStrings,
		"forced_gcs":      forced,
		"verifications":   verifications,
		"churned_blocks":  churned,
	}, verifications)
}

// churn mallocs and frees C memory of the sizes the fixture uses, filled with another pattern:
// if the GC had released memory still in use, malloc would hand it out here and overwrite it.
func churn(rng *rand.Rand) int64 {
	for i := 0; i < churnBlocks; i++ {
		size := 32 + rng.Intn(4096)
		ptr := cmem.Malloc(size)
		cmem.Fill(ptr, size, rng.Uint32())
		cmem.Release(ptr, size)
	}
	return churnBlocks
}

// verify checks every C block and string; any difference is reported as corrupt data.
func verify(blocks []bareBlock, strs []*C.char, texts []string) {
	if slot := int(C.table_verify()); slot >= 0 {
		probe.Corrupt("C-table block %d no longer holds its pattern after a GC", slot)
	}
	for i, b := range blocks {
		if bad := cmem.Verify(b.ptr, b.size, b.seed); bad >= 0 {
			probe.Corrupt("Go-held C.malloc block %d (%d bytes): byte %d changed after a GC",
				i, b.size, bad)
		}
	}
	for i, s := range strs {
		if got := C.GoString(s); got != texts[i] {
			probe.Corrupt("C.CString %d is %q after a GC, want %q", i, got, texts[i])
		}
	}
}

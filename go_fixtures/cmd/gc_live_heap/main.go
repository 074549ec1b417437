// Command gc_live_heap is a GC benchmark with a large, pointer-dense live heap, the shape of an
// SDK's long-lived caches and object graphs: 64 full binary trees of 32-byte nodes (two pointers
// per node) totalling about GXM_LIVE_HEAP_MB MiB (default 64) stay live the whole run, while
// GOMAXPROCS workers keep replacing random depth-6 subtrees (the replaced ones become garbage),
// so every GC cycle has to mark the whole live heap. The run lasts GXM_DURATION and on until it
// holds probe.MinPauses GC pauses (a large heap has few cycles a second). ops = subtrees
// replaced. At the end every tree must still have its node count and every node its value;
// otherwise exit 3 (corrupt).
package main

import (
	"math/bits"
	"math/rand"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"

	"gxm.dev/fixtures/internal/probe"
)

type node struct {
	left, right *node
	id          uint64 // position in its tree (heap numbering: root 1, children 2i, 2i+1)
	check       uint64 // mix(id): a node that changed shows here
}

const (
	trees        = 64
	nodeBytes    = 32
	subtreeDepth = 6
	defaultMiB   = 64
)

func main() {
	liveMiB := liveHeapMiB()
	duration, seed := probe.Duration(), probe.Seed()
	depth := treeDepth(liveMiB)
	forest := make([]*node, trees)
	for i := range forest {
		forest[i] = build(1, depth)
	}
	runtime.GC()
	p := probe.Start()
	workers := runtime.GOMAXPROCS(0)
	locks := make([]sync.Mutex, trees)
	var replaced atomic.Int64
	p.HoldWorkers(duration, workers, func(w int, stop *atomic.Bool) {
		rng := rand.New(rand.NewSource(seed + int64(w)))
		for !stop.Load() {
			t := rng.Intn(trees)
			locks[t].Lock()
			replace(forest[t], depth, rng)
			locks[t].Unlock()
			replaced.Add(1)
		}
	})
	want := uint64(1)<<(depth+1) - 1
	for i, root := range forest {
		if got := verify(root); got != want {
			probe.Corrupt("tree %d has %d intact nodes, want %d", i, got, want)
		}
	}
	p.Finish(map[string]any{
		"live_heap_mib_requested": liveMiB,
		"live_nodes":              want * trees,
		"live_node_bytes":         want * trees * nodeBytes,
		"tree_depth":              depth,
		"workers":                 workers,
	}, replaced.Load())
	runtime.KeepAlive(forest)
}

// liveHeapMiB reads GXM_LIVE_HEAP_MB (MiB of live tree nodes; default 64, 1..65536).
func liveHeapMiB() int {
	raw := os.Getenv("GXM_LIVE_HEAP_MB")
	if raw == "" {
		return defaultMiB
	}
	mib, err := strconv.Atoi(raw)
	if err != nil || mib < 1 || mib > 65536 {
		os.Stderr.WriteString("gxm: usage: GXM_LIVE_HEAP_MB=" + strconv.Quote(raw) +
			" is not a whole number of MiB between 1 and 65536\n")
		os.Exit(2)
	}
	return mib
}

// treeDepth is the depth at which `trees` full trees of 32-byte nodes come closest to liveMiB
// from below (at least subtreeDepth+1, so there is something to replace).
func treeDepth(liveMiB int) int {
	nodesPerTree := uint64(liveMiB) << 20 / nodeBytes / trees
	depth := bits.Len64(nodesPerTree+1) - 2
	if depth < subtreeDepth+1 {
		depth = subtreeDepth + 1
	}
	return depth
}

func mix(id uint64) uint64 {
	id ^= id >> 33
	id *= 0xff51afd7ed558ccd
	return id ^ id>>29
}

func build(id uint64, depth int) *node {
	n := &node{id: id, check: mix(id)}
	if depth > 0 {
		n.left, n.right = build(2*id, depth-1), build(2*id+1, depth-1)
	}
	return n
}

// replace rebuilds a random subtree of depth subtreeDepth; the old one becomes garbage.
func replace(root *node, depth int, rng *rand.Rand) {
	parent := root
	for level := depth - subtreeDepth; level > 1; level-- {
		if rng.Intn(2) == 0 {
			parent = parent.left
		} else {
			parent = parent.right
		}
	}
	if rng.Intn(2) == 0 {
		parent.left = build(parent.left.id, subtreeDepth)
	} else {
		parent.right = build(parent.right.id, subtreeDepth)
	}
}

// verify counts the nodes of a tree whose value matches their position.
func verify(n *node) uint64 {
	if n == nil || n.check != mix(n.id) {
		return 0
	}
	count := uint64(1)
	if n.left != nil {
		if n.left.id != 2*n.id || n.right == nil || n.right.id != 2*n.id+1 {
			return 0
		}
		count += verify(n.left) + verify(n.right)
	}
	return count
}

// Command gc_small_objects is an allocation-heavy GC benchmark in the style of the binary-trees
// benchmark: every worker builds and checks short-lived binary trees of small pointerful nodes
// while a modest live set (one long-lived tree and a ring of recent trees) stays reachable, so
// every GC cycle has real marking to do. The run lasts GXM_DURATION and on until it holds
// probe.MinPauses GC pauses. ops = trees built. A tree with the wrong node count exits with
// status 3 (outcome corrupt).
package main

import (
	"math/rand"
	"runtime"
	"sync/atomic"

	"gxm.dev/fixtures/internal/probe"
)

type node struct {
	left, right *node
}

const (
	longLivedDepth = 16 // 131071 nodes: the modest live set
	recentTrees    = 32 // per worker: medium-lived trees
)

// depths are the short-lived tree depths each worker cycles through (from a seeded start).
var depths = []int{4, 6, 8, 10, 12}

func main() {
	duration, seed := probe.Duration(), probe.Seed()
	p := probe.Start()
	longLived := build(longLivedDepth)
	workers := runtime.GOMAXPROCS(0)

	var trees atomic.Int64
	p.HoldWorkers(duration, workers, func(w int, stop *atomic.Bool) {
		trees.Add(work(rand.New(rand.NewSource(seed+int64(w))), stop))
	})
	liveNodes := mustCheck(longLived, longLivedDepth)
	runtime.KeepAlive(longLived)

	p.Finish(map[string]any{
		"workers":    workers,
		"trees":      trees.Load(),
		"live_nodes": liveNodes,
	}, trees.Load())
}

// work builds and checks trees until stop and returns how many it built.
func work(rng *rand.Rand, stop *atomic.Bool) int64 {
	type kept struct {
		tree  *node
		depth int
	}
	recent := make([]kept, recentTrees)
	next := rng.Intn(len(depths))
	var built int64
	for !stop.Load() {
		depth := depths[next%len(depths)]
		next++
		tree := build(depth)
		mustCheck(tree, depth)
		recent[rng.Intn(len(recent))] = kept{tree, depth}
		built++
	}
	for _, k := range recent {
		if k.tree != nil {
			mustCheck(k.tree, k.depth)
		}
	}
	return built
}

func build(depth int) *node {
	if depth == 0 {
		return &node{}
	}
	return &node{left: build(depth - 1), right: build(depth - 1)}
}

// count is the number of nodes of a tree (build's trees are full: both children or none).
func count(n *node) int {
	if n.left == nil {
		return 1
	}
	return 1 + count(n.left) + count(n.right)
}

// mustCheck counts the nodes of a tree built with depth and reports corruption if any is lost.
func mustCheck(tree *node, depth int) int {
	want := 1<<(depth+1) - 1
	if got := count(tree); got != want {
		probe.Corrupt("tree of depth %d has %d nodes, want %d", depth, got, want)
	}
	return want
}

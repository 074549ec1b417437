// Command flaky_gopointer is nested_gopointer_pinned with a rare bug: in about one run in ten
// (GXM_FLAKY_RATE, default 0.1) the SDK takes a branch that forgets to pin one request's payload,
// and cgo's pointer check panics at that call ("cgo argument has Go pointer to unpinned Go
// pointer"; worded "argument of cgo function has Go pointer to unpinned Go pointer" from Go 1.26).
// Whether a run takes the branch, and when, is drawn from GXM_SEED alone (math/rand's generator is
// the same in every Go release), so a run is repeatable and the crash rate over runs with
// different seeds is the knob's. Expected: pass or crash. It is the test bed of the flake math:
// `gxm cell --until-fail` and `gxm bisect` run counts.
package main

import (
	"fmt"
	"math/rand"
	"os"
	"strconv"

	"gxm.dev/fixtures/internal/nested"
	"gxm.dev/fixtures/internal/probe"
)

func main() {
	rate := 0.1
	if raw := os.Getenv("GXM_FLAKY_RATE"); raw != "" {
		value, err := strconv.ParseFloat(raw, 64)
		if err != nil || value < 0 || value > 1 {
			fmt.Fprintf(os.Stderr, "gxm: usage: GXM_FLAKY_RATE=%q is not a probability in [0, 1]\n", raw)
			os.Exit(2)
		}
		rate = value
	}
	rng := rand.New(rand.NewSource(probe.Seed()))
	forgetAt := -1.0 // fraction of the run after which one request goes unpinned; <0: never
	if rng.Float64() < rate {
		forgetAt = 0.9 * rng.Float64() // early enough that a request is still made after it
	}
	nested.RunForgetting(forgetAt)
}

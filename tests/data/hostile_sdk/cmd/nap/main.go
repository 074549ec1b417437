// nap sleeps for $GXM_DURATION seconds and passes: a run long enough for gxm to be killed in.
package main

import (
	"os"
	"strconv"
	"time"

	"example.com/hostile_sdk/internal/result"
)

func main() {
	seconds, err := strconv.ParseFloat(os.Getenv("GXM_DURATION"), 64)
	if err != nil {
		seconds = 0.2
	}
	time.Sleep(time.Duration(seconds * float64(time.Second)))
	result.Write(map[string]any{"slept_s": seconds})
}

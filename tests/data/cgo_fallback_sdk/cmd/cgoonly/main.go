// Command cgoonly calls C directly and has no pure-Go fallback: it cannot be built with cgo off.
package main

// static int answer(void) { return 42; }
import "C"

import "fmt"

func main() { fmt.Println("answer:", C.answer()) }

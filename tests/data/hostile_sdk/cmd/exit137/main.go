// exit137 exits with status 137 on purpose (no signal): it must be recorded as exit status 137,
// not as a SIGKILL.
package main

import "os"

func main() {
	os.Exit(137)
}

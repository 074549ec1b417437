// envecho echoes every environment variable it sees into its checks and onto stderr: a secret
// from the matrix must come out masked in the cell JSON and the logs, and nothing of the host's
// environment may be there at all. It also reports its effective capabilities and NoNewPrivs.
package main

import (
	"fmt"
	"os"
	"strings"

	"example.com/hostile_sdk/internal/result"
)

func main() {
	env := map[string]any{}
	for _, pair := range os.Environ() {
		name, value, _ := strings.Cut(pair, "=")
		env[name] = value
		fmt.Fprintf(os.Stderr, "%s\n", pair)
	}
	status, _ := os.ReadFile("/proc/self/status")
	privileges := map[string]any{}
	for _, line := range strings.Split(string(status), "\n") {
		name, value, _ := strings.Cut(line, ":")
		if name == "CapEff" || name == "NoNewPrivs" {
			privileges[name] = strings.TrimSpace(value)
		}
	}
	result.Write(map[string]any{
		"env":        env,
		"token_echo": "token is " + os.Getenv("MY_API_TOKEN"),
		"privileges": privileges,
	})
}

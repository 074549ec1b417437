// Command arena_godebug tests the claim "GODEBUG=arenas=1 enables arenas". It runs itself again
// with GODEBUG=arenas=1 added to its environment; the child reports, as JSON on stdout, whether
// the arena package is part of its build and whether allocating in an arena and freeing it
// worked, whether the runtime knows a GODEBUG setting named `arenas` (every known setting has a
// /godebug/non-default-behavior/<name>:events metric; how many it has is the control) and its
// runtime.Version(). The parent records that in its checks: arena_used, arenas_compiled_in,
// godebug, godebug_setting_known, godebug_settings_seen, child_runtime_version. Exit 0 whatever
// the answer; a child that fails makes the parent exit 2 after copying the child's stderr. The
// check takes milliseconds: GXM_DURATION is accepted and unused. Expected: pass everywhere.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"runtime/metrics"
	"strings"

	"gxm.dev/fixtures/internal/probe"
)

const (
	childMarker    = "GXM_ARENA_GODEBUG_CHILD"
	godebugSetting = "arenas=1"
)

// report is what the child prints.
type report struct {
	Godebug             string `json:"godebug"`
	ArenasCompiledIn    bool   `json:"arenas_compiled_in"`
	ArenaUsed           bool   `json:"arena_used"`
	GodebugSettingKnown bool   `json:"godebug_setting_known"`
	GodebugSettings     int    `json:"godebug_settings_listed"`
	RuntimeVersion      string `json:"runtime_version"`
}

func main() {
	if os.Getenv(childMarker) != "" {
		child()
		return
	}
	p := probe.Start()
	r := runChild()
	p.Finish(map[string]any{
		"godebug":               r.Godebug,
		"arenas_compiled_in":    r.ArenasCompiledIn,
		"arena_used":            r.ArenaUsed,
		"godebug_setting_known": r.GodebugSettingKnown,
		"godebug_settings_seen": r.GodebugSettings,
		"child_runtime_version": r.RuntimeVersion,
	}, 1)
}

// runChild runs this program again with GODEBUG=arenas=1 and decodes what it reports.
func runChild() report {
	exe, err := os.Executable()
	if err != nil {
		fail("cannot find my own executable: %v", err)
	}
	cmd := exec.Command(exe)
	cmd.Env = childEnv()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		os.Stderr.Write(stderr.Bytes())
		fail("child with GODEBUG=%s failed: %v", godebugSetting, err)
	}
	var r report
	if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
		fail("child printed no report: %v", err)
	}
	return r
}

// childEnv is this process's environment without the result file, with GODEBUG=arenas=1
// (appended to any GODEBUG already set) and the child marker.
func childEnv() []string {
	godebug := godebugSetting
	var env []string
	for _, kv := range os.Environ() {
		switch {
		case strings.HasPrefix(kv, "GXM_RESULT="):
		case strings.HasPrefix(kv, "GODEBUG="):
			if old := strings.TrimPrefix(kv, "GODEBUG="); old != "" {
				godebug = old + "," + godebugSetting
			}
		default:
			env = append(env, kv)
		}
	}
	return append(env, "GODEBUG="+godebug, childMarker+"=1")
}

func child() {
	r := report{
		Godebug:          os.Getenv("GODEBUG"),
		ArenasCompiledIn: arenasCompiledIn,
		ArenaUsed:        useArena(),
		RuntimeVersion:   runtime.Version(),
	}
	for _, d := range metrics.All() {
		if strings.HasPrefix(d.Name, "/godebug/non-default-behavior/") {
			r.GodebugSettings++ // the settings this runtime knows: the control of the next test
		}
		if d.Name == "/godebug/non-default-behavior/arenas:events" {
			r.GodebugSettingKnown = true
		}
	}
	if err := json.NewEncoder(os.Stdout).Encode(r); err != nil {
		fail("cannot write the report: %v", err)
	}
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "gxm: arena_godebug: %s\n", fmt.Sprintf(format, args...))
	os.Exit(2)
}

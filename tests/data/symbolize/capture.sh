#!/bin/sh
# Regenerates the captures of the C-crash fixtures (README.md here says what each file is).
# Usage: capture.sh OUT_DIR GO122_BIN_DIR GO126_BIN_DIR  (each holding c_null_read and
# c_write_overflow built from go_fixtures/ by that Go: `go build -o DIR ./cmd/c_null_read ...`).
# Needs eu-addr2line and eu-stack (elfutils), addr2line (binutils), gdb, and a plain-file
# core_pattern (`core`); it raises only its own core size limit.
set -eu
out=$1; mkdir -p "$out/work"
script=$(python3 -c 'from harness.symbolize import TOOL_SCRIPT; print(TOOL_SCRIPT)')
for pair in "1.22:$2" "1.26:$3"; do
  minor=${pair%%:*}; bins=${pair#*:}
  for name in c_null_read c_write_overflow; do
    stem="$out/$name.go$minor"
    (cd "$out/work" && GXM_DURATION=0.05 GXM_RESULT=/dev/null "$bins/$name" >/dev/null 2>"$stem.stderr"; echo "exit $?" >"$stem.status") || true
    pc=$(sed -n 's/^PC=\(0x[0-9a-f]*\).*/\1/p' "$stem.stderr" | head -1)
    eu-addr2line -f -i -C -e "$bins/$name" "$pc" >"$stem.eu-addr2line.txt"
    addr2line -f -i -C -e "$bins/$name" "$pc" >"$stem.addr2line.txt"
    rm -f "$out/work/core"
    (cd "$out/work" && ulimit -c unlimited && GOTRACEBACK=crash GXM_DURATION=0.05 GXM_RESULT=/dev/null "$bins/$name" >/dev/null 2>"$stem.crash.stderr") || true
    sh -c "$script" sh "$bins/$name" "$pc" "$out/work/core" >"$stem.tool-output.txt"
    eu-stack -s -i -n 64 -e "$bins/$name" --core="$out/work/core" >"$stem.eu-stack.txt" 2>&1 || true
    rm -f "$out/work/core"
  done
done
rm -rf "$out/work"

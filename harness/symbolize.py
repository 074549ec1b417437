"""Crashes inside C: the faulting C function from the binary, a full C backtrace from a core.

When a signal arrives during cgo execution, Go prints only `SIGSEGV: …`, `PC=0x…` and the Go
frames down to the cgo call. This module names the C code that faulted:
- **the fault frame**: `eu-addr2line -f -i -C` (elfutils; binutils' `addr2line` where elfutils is
  missing — it cannot read the C line tables of Go ≥ 1.26 binaries) on the run's own binary at
  Go's PC gives the C function, its inlined callers and file:line. No core needed, so it works
  wherever the tools are; the crash signature becomes `SIGSEGV in sdk_parse_header`.
- **the full backtrace**: with GOTRACEBACK=crash Go re-raises the signal, and where the kernel
  writes core files into the crashing process's directory (core_pattern a plain file name) and the
  run's core size limit could be raised, the core lands in the run's own directory. `eu-stack`
  (elfutils; `gdb -batch` where it is missing) reads the crashing thread's backtrace from it; the
  text is kept beside the run's logs and the core removed (DESIGN: nothing left behind). eu-stack
  first: it reads the same frames (C function, inlined callers, file:line, down to the cgo call)
  in a quarter of gdb's CPU time (0.1 s against 0.4 s a crash), which every crashing run pays.

The tools run through the backend that ran the fixture (host subprocesses, or a container of the
same toolchain image, so libc frames are read against the libc the program used). gxm never
changes host settings: where cores go elsewhere (systemd-coredump, apport) it says so in
`gxm doctor` and keeps the fault frame only.
"""

from __future__ import annotations

import re
import resource
import shutil
from dataclasses import dataclass
from pathlib import Path

from harness.backends import Backend
from harness.classify import CgoFault, clip_signature
from harness.model import ExecSpec, Toolchain

CORE_PATTERN = Path("/proc/sys/kernel/core_pattern")
TOOL_TIMEOUT_S = 120.0
BACKTRACE_MAX_FRAMES = 64
_ELF_CORE_HEADER = b"\x7fELF"
_ET_CORE = 4

_CGO_WRAPPER = re.compile(r"^_cgo_[0-9a-f]+_Cfunc_(?P<name>\w+)$")
_LOCATION = re.compile(r"^(?P<file>.*?):(?P<line>\d+|\?)(?::\d+)?$")
_FRAME_LINE = re.compile(r"^#\d+\s")
_SIGNAL_FRAME = re.compile(r"<signal handler called>|\b__restore_rt\b")
_UNNAMED_FRAME = re.compile(r"^#\d+\s+(0x[0-9a-f]+ in \?\? \(\)|0x[0-9a-f]+)$")

# One script for both tools, so a docker run pays for one extra container, not two. $1 binary,
# $2 PC, $3 core (may be empty). Sections are marked for `parse_tool_output`.
TOOL_SCRIPT = r"""
echo '--- frame'
frame_tool=none
for tool in addr2line eu-addr2line; do command -v "$tool" >/dev/null 2>&1 && frame_tool=$tool; done
echo "tool $frame_tool"
[ "$frame_tool" = none ] || "$frame_tool" -f -i -C -e "$1" "$2"
[ -n "$3" ] || exit 0
echo '--- backtrace'
if command -v eu-stack >/dev/null 2>&1; then echo 'tool eu-stack'
  eu-stack -s -i -n 64 -e "$1" --core="$3" 2>&1
elif command -v gdb >/dev/null 2>&1; then echo 'tool gdb'
  gdb -batch -nx -iex 'set auto-load off' -ex 'set width 0' \
    -ex 'set print frame-arguments presence' -ex bt "$1" "$3" 2>&1
else echo 'tool none'; fi
exit 0
"""


# --- reading Go's report and the tools' output (pure) -------------------------------------------


@dataclass(frozen=True)
class CFrame:
    """One C frame: innermost first; inlined callers follow as frames of their own."""

    function: str
    file: str | None = None
    line: int | None = None

    def to_json(self) -> dict[str, object]:
        return {"function": self.function, "file": self.file, "line": self.line}

    def __str__(self) -> str:
        where = f" at {self.file}:{self.line}" if self.file and self.line else ""
        return f"{self.function}{where}"


def _function_name(text: str) -> str:
    """`sdk_parse_header inlined at f.c:25:16 in caller` → `sdk_parse_header`."""
    return text.split(" inlined at ", 1)[0].strip()


def parse_addr2line(text: str) -> tuple[CFrame, ...]:
    """Frames from `(eu-)addr2line -f -i` output: pairs of function and `file:line[:col]` lines.

    An address the binary has no symbol for (`??`) gives no frame.
    """
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    frames: list[CFrame] = []
    for function_line, location_line in zip(lines[::2], lines[1::2], strict=False):
        function = _function_name(function_line)
        if not function or function == "??":
            continue
        location = _LOCATION.match(location_line)
        if location and location["file"] != "??" and location["line"] != "?":
            frames.append(CFrame(function, location["file"], int(location["line"])))
        else:
            frames.append(CFrame(function))
    return tuple(frames)


def c_function(frames: tuple[CFrame, ...]) -> str | None:
    """The faulting C function's name as a signature shows it: the innermost frame, with cgo's
    per-build wrapper name `_cgo_<hash>_Cfunc_f` reduced to `f` so signatures stay stable."""
    if not frames:
        return None
    wrapper = _CGO_WRAPPER.match(frames[0].function)
    return wrapper["name"] if wrapper else frames[0].function


def c_signature(fault: CgoFault, frames: tuple[CFrame, ...]) -> str | None:
    """`SIGSEGV in sdk_parse_header`, or None when the PC is not in the binary's C code."""
    function = c_function(frames)
    if not function:
        return None
    return clip_signature(f"{fault.signal} in {function}")


def crashing_thread_backtrace(text: str) -> str:
    """The crashing thread's frames from gdb's `bt` or eu-stack's output (its first thread), from
    the frame that faulted to the first frame the tool cannot name.

    The frames above the last signal frame are Go re-raising the signal to write the core and are
    left out. A signal frame is gdb's `<signal handler called>`, libc's `__restore_rt`, or (where
    libc has no symbols, as in a minimal container) the unnamed frame under `runtime.sigtramp`.
    """
    frames: list[str] = []
    for line in text.splitlines():
        if line.startswith("TID ") and frames:
            break  # eu-stack: the next thread
        if _FRAME_LINE.match(line):
            if line.startswith("#0 "):
                frames = []  # gdb prints frame #0 once on loading the core, then `bt` again
            frames.append(line.rstrip())
        elif frames and line.startswith("    "):  # eu-stack's source line under its frame
            frames[-1] += "\n" + line.rstrip()
    boundaries = [
        i for i, frame in enumerate(frames)
        if _SIGNAL_FRAME.search(frame) or (i > 0 and "runtime.sigtramp" in frames[i - 1])
    ]  # fmt: skip
    if boundaries:
        frames = frames[boundaries[-1] + 1 :]
    named = []
    for frame in frames[:BACKTRACE_MAX_FRAMES]:
        if _UNNAMED_FRAME.match(frame):
            break
        named.append(frame)
    return "\n".join(named)


@dataclass(frozen=True)
class ToolOutput:
    """What the tool script printed: the fault frames and, if a core was read, the backtrace."""

    frame_tool: str
    frames: tuple[CFrame, ...]
    backtrace_tool: str | None = None
    backtrace: str = ""


def parse_tool_output(text: str) -> ToolOutput:
    """Split TOOL_SCRIPT's output into its `--- frame` and `--- backtrace` sections."""
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in text.splitlines():
        if line.startswith("--- "):
            current = sections.setdefault(line[4:].strip(), [])
        elif current is not None:
            current.append(line)
    frame_lines = sections.get("frame", [])
    frame_tool = frame_lines[0].removeprefix("tool ") if frame_lines else "none"
    frames = parse_addr2line("\n".join(frame_lines[1:]))
    if "backtrace" not in sections:
        return ToolOutput(frame_tool, frames)
    lines = sections["backtrace"]
    tool = lines[0].removeprefix("tool ") if lines else "none"
    return ToolOutput(frame_tool, frames, tool, crashing_thread_backtrace("\n".join(lines[1:])))


# --- core files ---------------------------------------------------------------------------------


def is_core_file(path: Path) -> bool:
    """Whether `path` is an ELF core dump (whatever core_pattern named it)."""
    try:
        with open(path, "rb") as handle:
            header = handle.read(18)
    except OSError:
        return False
    return (
        len(header) == 18
        and header.startswith(_ELF_CORE_HEADER)
        and int.from_bytes(header[16:18], "little") == _ET_CORE
    )


def find_cores(directory: Path) -> list[Path]:
    """The core files directly in `directory` (a run's own working directory)."""
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir() if p.is_file() and is_core_file(p))


# --- can this host give full backtraces? ---------------------------------------------------------


@dataclass(frozen=True)
class CoreSupport:
    """Whether runs can leave a core in their own directory, and if not, why (with the fix)."""

    available: bool
    reason: str


def core_pattern_problem(pattern: str) -> str | None:
    """Why cores written with this core_pattern do not land in the run's directory, or None."""
    pattern = pattern.strip()
    if pattern.startswith("|"):
        handler = Path(pattern[1:].split()[0]).name if pattern[1:].split() else "a program"
        known = {"systemd-coredump": "systemd-coredump", "apport": "apport"}
        owner = next((name for key, name in known.items() if key in pattern), handler)
        return (
            f"the kernel pipes core dumps to {owner} (core_pattern {pattern[:60]!r}); gxm never "
            "changes host settings, so only the faulting C frame is named (`coredumpctl` / "
            "apport keep the cores)"
        )
    if pattern.startswith("/"):
        return (
            f"core_pattern writes cores to an absolute path ({pattern!r}), outside the run's "
            "directory (and unwritable in containers)"
        )
    if not pattern:
        return "core_pattern is empty: the kernel writes no core files"
    return None


def core_support(backend_name: str, core_pattern_path: Path = CORE_PATTERN) -> CoreSupport:
    """Whether a fixture run on `backend_name` can be given a full C backtrace from its core."""
    try:
        pattern = core_pattern_path.read_text()
    except OSError as exc:
        return CoreSupport(False, f"cannot read {core_pattern_path}: {exc.strerror}")
    problem = core_pattern_problem(pattern)
    if problem:
        return CoreSupport(False, problem)
    if backend_name == "docker":  # the container's core limit is set by gxm; tools in the image
        return CoreSupport(True, f"core_pattern {pattern.strip()!r}; read in the toolchain image")
    _, hard = resource.getrlimit(resource.RLIMIT_CORE)
    if hard == 0:
        return CoreSupport(False, "the hard core size limit of gxm's process is 0 (`ulimit -H -c`)")
    tool = shutil.which("eu-stack") or shutil.which("gdb")
    if not tool:
        return CoreSupport(
            False, "neither eu-stack nor gdb is installed: `sudo apt-get install elfutils`"
        )
    return CoreSupport(True, f"core_pattern {pattern.strip()!r}; {Path(tool).name} reads cores")


def doctor_rows(
    docker_base_image: str = "", core_pattern_path: Path = CORE_PATTERN
) -> list[tuple[str, str, str]]:
    """(check, status, fix) rows for `gxm doctor`: fault frames and full C backtraces.
    `docker_base_image`: the matrix's configured base image ("" = the bootstrapped one)."""
    frame_tool = shutil.which("eu-addr2line") or shutil.which("addr2line")
    if frame_tool:
        frame_row = ("C fault frame (local)", f"ok: {Path(frame_tool).name}", "")
        if Path(frame_tool).name == "addr2line":
            fix = "`sudo apt-get install elfutils`: binutils cannot read Go 1.26 C line tables"
            frame_row = ("C fault frame (local)", "ok: addr2line (binutils)", fix)
    else:
        frame_row = (
            "C fault frame (local)", "missing: eu-addr2line and addr2line",
            "`sudo apt-get install elfutils`",
        )  # fmt: skip
    rows = [frame_row]
    for backend_name in ("local", "docker"):
        support = core_support(backend_name, core_pattern_path)
        status = ("ok: " if support.available else "unavailable: ") + support.reason
        fix = "" if support.available else "signatures still name the faulting C function"
        if support.available and backend_name == "docker" and docker_base_image:
            fix = f"{docker_base_image} needs gdb or elfutils (eu-stack) for full backtraces"
        rows.append((f"C backtraces from cores ({backend_name})", status, fix))
    return rows


# --- running the tools through the backend ------------------------------------------------------


@dataclass(frozen=True)
class NativeCrash:
    """What gxm learnt about a crash in C: the fault frames, and the full backtrace if a core
    was read (`backtrace_tool` names the tool), or why not (`note`)."""

    fault: CgoFault
    frames: tuple[CFrame, ...]
    frame_tool: str
    backtrace: str = ""
    backtrace_tool: str | None = None
    note: str | None = None

    @property
    def signature(self) -> str | None:
        return c_signature(self.fault, self.frames)

    def text(self, binary: Path) -> str:
        """The C backtrace file kept beside the run's logs."""
        head = [
            f"{self.fault.signal} during cgo execution at PC {self.fault.pc:#x} in {binary.name}",
            "",
            f"faulting C frame ({self.frame_tool}, innermost first, inlined callers below):",
        ]
        head += [f"  {frame}" for frame in self.frames] or ["  (the PC is not in the binary)"]
        if self.backtrace:
            head += ["", f"crashing thread, from the core ({self.backtrace_tool}):"]
            head += [self.backtrace]
        else:
            head += ["", f"no full backtrace: {self.note or 'no core was written'}"]
        return "\n".join(head) + "\n"


def tool_spec(
    run_spec: ExecSpec, binary: Path, fault: CgoFault, core: Path | None, out: Path, err: Path
) -> ExecSpec:
    """The ExecSpec that runs TOOL_SCRIPT where the fixture ran (same mounts, same limits)."""
    argv = ["sh", "-c", TOOL_SCRIPT, "sh", str(binary), f"{fault.pc:#x}", str(core or "")]
    env = {key: value for key, value in run_spec.env if key in ("PATH", "HOME", "TMPDIR", "LANG")}
    return ExecSpec(
        argv=tuple(argv),
        env=tuple(sorted(env.items())),
        cwd=run_spec.cwd,
        stdout_path=out,
        stderr_path=err,
        timeout_s=TOOL_TIMEOUT_S,
        memory_limit_bytes=run_spec.memory_limit_bytes,
        cpus=run_spec.cpus,
        pids_limit=run_spec.pids_limit,
        label=f"{run_spec.label}:symbolize",
        mounts=run_spec.mounts,
        core_dumps=False,  # a tool that crashes must not leave a core of its own
    )


def inspect_cgo_crash(
    backend: Backend,
    toolchain: Toolchain,
    run_spec: ExecSpec,
    binary: Path,
    fault: CgoFault,
    core: Path | None,
    core_note: str | None,
) -> NativeCrash:
    """Run the tools on the run's binary (and core) and say what they found. Never raises: a
    tool that fails leaves the frames empty and says why in `note`."""
    out = run_spec.cwd / ".gxm-symbolize.out"
    err = run_spec.cwd / ".gxm-symbolize.err"
    result = backend.execute(tool_spec(run_spec, binary, fault, core, out, err), toolchain)
    try:
        text = out.read_text(errors="replace") if out.is_file() else ""
        error = err.read_text(errors="replace").strip() if err.is_file() else ""
    finally:
        out.unlink(missing_ok=True)
        err.unlink(missing_ok=True)
    if result.infra_error or result.exit_code != 0:
        why = result.infra_error or error[-300:] or f"exit status {result.exit_code}"
        return NativeCrash(fault, (), "none", note=f"symbolizing failed: {why}")
    parsed = parse_tool_output(text)
    note = core_note
    if core is not None and not parsed.backtrace:
        note = f"{parsed.backtrace_tool or 'no tool'} could not read the core"
        if parsed.backtrace_tool == "none":
            note = "neither gdb nor eu-stack is installed where the fixture ran"
    return NativeCrash(
        fault, parsed.frames, parsed.frame_tool, parsed.backtrace, parsed.backtrace_tool, note
    )

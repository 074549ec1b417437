"""Turn what a run did (exit status, stderr, result file) into an outcome, a signature, metrics.

Pure functions over text and `ExecResult`s; the only I/O is reading a result file the caller
names. Crash signatures are the first `panic:` / `fatal error:` / signal line of Go's crash output
with addresses and numbers normalised, so identical crashes bucket together across runs and across
Go versions that print the same message (docs/contracts.md: outcomes, signatures).
"""

from __future__ import annotations

import json
import math
import re
import signal as signal_module
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness import pausepool
from harness.model import Classified, ExecResult, Outcome

FIXTURE_SCHEMA = "gxm.fixture/1"
CORRUPT_EXIT_CODE = 3
CORRUPT_MARKER = "gxm: corrupt: "
SIGNATURE_MAX_CHARS = 200
RESULT_MAX_BYTES = 16 << 20
# JSON integers a result file may hold: int64 covers every metric (ns, bytes, counts); a longer
# digit run is a hostile or broken file (Python refuses > 4300 digits, floats overflow on less).
RESULT_INT_MAX_DIGITS = 19
METRIC_ABS_MAX = 2**63

_PANIC = re.compile(r"^panic: (?P<msg>.*)$")
_FATAL_ERROR = re.compile(r"^fatal error: (?P<msg>.*)$")
_FATAL = re.compile(r"^fatal: (?P<msg>.*)$")
# Go's header for a signal it dies of: "SIGSEGV: segmentation violation" then "PC=0x… m=0 …".
_SIGNAL_HEADER = re.compile(r"^(?P<name>SIG[A-Z0-9]+): (?P<desc>.+)$")
# Printed under a panic/fatal error caused by a signal: "[signal SIGSEGV: … code=… addr=… pc=…]".
_SIGNAL_BRACKET = re.compile(r"^\[signal (?P<name>SIG[A-Z0-9]+)\b.*\]$")
# What the runtime prints on the line before "fatal error: fault" to say what faulted.
_FAULT_CAUSE = re.compile(
    r"^(?P<cause>unexpected fault address|accessed data from freed user arena)\b"
)
_CGO_NOTE = "signal arrived during cgo execution"
_PC_LINE = re.compile(r"^PC=(?P<pc>0x[0-9a-fA-F]+)\b")
_RECOVERED_SUFFIX = re.compile(r"\s*\[recovered(?:, repanicked)?\]$")
_GOROUTINE_HEADER = re.compile(r"^goroutine \d+ .*\[.*\]:$")
_HEX = re.compile(r"0[xX][0-9a-fA-F]+")
_NUMBER = re.compile(r"(?<![\w.])\d+(?:\.\d+)*(?!\w|\.\d)")
GCTRACE_LINE = re.compile(r"^gc \d+ @[\d.]+s \d+%: ")
_EXPERIMENTS = re.compile(r"(?:^|[\s-])X:(?P<list>[\w,]+)")
# The race detector's report: a header, then per access "Read at 0x… by goroutine N:" + frames.
_RACE_HEADER = "WARNING: DATA RACE"
_RACE_ACCESS = re.compile(r"^(?:Previous )?(?:[Rr]ead|[Ww]rite|[Aa]tomic \w+) at 0x")
_RACE_FRAME = re.compile(r"^  (?P<func>[^\s(][^\s]*)\(.*\)$")
# AddressSanitizer / MemorySanitizer: "==123==ERROR: AddressSanitizer: heap-use-after-free on …",
# "==123==WARNING: MemorySanitizer: use-of-uninitialized-value", then "    #0 0x… in FUNC FILE".
_SANITIZER = re.compile(
    r"^==\d+==(?:ERROR|WARNING): (?P<tool>AddressSanitizer|MemorySanitizer|LeakSanitizer): "
    r"(?P<kind>[\w-]+)"
)
_SANITIZER_ACCESS = re.compile(r"^(?P<access>READ|WRITE) of size \d+")
_SANITIZER_FRAME = re.compile(r"^\s+#\d+ 0x[0-9a-f]+ in (?P<func>\S+)")
# Frames that are the sanitizer's, the runtime's or cgo's plumbing, never the SDK's own code.
_PLUMBING = re.compile(
    r"^(__asan|__msan|__lsan|__tsan|__sanitizer|_*interceptor_|__interceptor|_cgo_|x_cgo|"
    r"crosscall|runtime[._]|internal/|sync/atomic\.|_cgoexp_)"
)


def normalise(text: str) -> str:
    """Replace hex addresses by `0x?` and free-standing numbers by `N`; collapse whitespace.

    Numbers inside words survive (`cgocheck2`, `go1.22`, `SIGSEGV`), so names stay readable.
    """
    text = _HEX.sub("0x?", text)
    text = _NUMBER.sub("N", text)
    return " ".join(text.split())


def clip_signature(text: str) -> str:
    """`text` cut to SIGNATURE_MAX_CHARS (an ellipsis marks the cut)."""
    if len(text) <= SIGNATURE_MAX_CHARS:
        return text
    return text[: SIGNATURE_MAX_CHARS - 1] + "…"


def _next_signal_name(lines: list[str], index: int) -> str | None:
    """The signal of a `[signal SIGx: …]` line right after lines[index], if there is one."""
    for line in lines[index + 1 : index + 3]:
        match = _SIGNAL_BRACKET.match(line)
        if match:
            return match["name"]
    return None


def _fatal_error_signature(lines: list[str], index: int, message: str) -> str:
    """`fatal error: <msg>`, plus what faulted (the line before) and the signal (the line after).

    E.g. `fatal error: fault (accessed data from freed user arena) [SIGSEGV]` or
    `fatal error: unexpected signal during runtime execution [SIGSEGV]`.
    """
    signature = f"fatal error: {normalise(message)}"
    if index > 0:
        cause = _FAULT_CAUSE.match(lines[index - 1])
        if cause:
            signature += f" ({cause['cause']})"
    signal_name = _next_signal_name(lines, index)
    if signal_name:
        signature += f" [{signal_name}]"
    return signature


def _signal_header_signature(lines: list[str], index: int) -> str | None:
    """`SIGSEGV: segmentation violation`, noting a signal that arrived in C code; None if the
    line is not Go's signal header (which is always followed by a `PC=` line)."""
    match = _SIGNAL_HEADER.match(lines[index])
    following = lines[index + 1 : index + 4]
    if not match or not following or not following[0].startswith("PC="):
        return None
    signature = f"{match['name']}: {normalise(match['desc'])}"
    if _CGO_NOTE in following:
        signature += f" ({_CGO_NOTE})"
    return signature


def _first_own_frame(frames: list[str]) -> str | None:
    """The first frame that is not runtime, cgo or sanitizer plumbing (the code with the bug)."""
    return next((f for f in frames if not _PLUMBING.match(f)), frames[0] if frames else None)


def _race_signature(lines: list[str], index: int) -> str:
    """`DATA RACE between A and B`: the top own function of both racing accesses, sorted so the
    same race reads the same whichever access the detector saw first."""
    functions: list[str] = []
    position = index + 1
    while position < len(lines) and len(functions) < 2:
        if _RACE_ACCESS.match(lines[position]):
            frames: list[str] = []
            position += 1
            while position < len(lines) and lines[position].startswith(" "):
                match = _RACE_FRAME.match(lines[position])
                if match:
                    frames.append(match["func"])
                position += 1
            functions.append(_first_own_frame(frames) or "?")
        elif lines[position].startswith("=================="):
            break
        else:
            position += 1
    if not functions:
        return "DATA RACE"
    return "DATA RACE between " + " and ".join(sorted(functions))


def _sanitizer_signature(lines: list[str], index: int, tool: str, kind: str) -> str:
    """`AddressSanitizer: heap-buffer-overflow (WRITE) in sdk_copy_name`: the kind of error, the
    access, and the first frame of the report's first stack that is not sanitizer or cgo code."""
    access: str | None = None
    frames: list[str] = []
    for line in lines[index + 1 : index + 80]:
        if access is None and not frames:
            match = _SANITIZER_ACCESS.match(line)
            access = match["access"] if match else access
        frame = _SANITIZER_FRAME.match(line)
        if frame:
            frames.append(frame["func"])
        elif frames and not line.strip():
            break  # the end of the first stack
    signature = f"{tool}: {kind}"
    if access:
        signature += f" ({access})"
    own = _first_own_frame(frames)
    return f"{signature} in {own}" if own else signature


def _signature_at(lines: list[str], index: int) -> str | None:
    line = lines[index]
    if line == _RACE_HEADER:
        return _race_signature(lines, index)
    sanitizer = _SANITIZER.match(line)
    if sanitizer:
        return _sanitizer_signature(lines, index, sanitizer["tool"], sanitizer["kind"])
    match = _PANIC.match(line)
    if match:
        return f"panic: {normalise(_RECOVERED_SUFFIX.sub('', match['msg']))}"
    match = _FATAL_ERROR.match(line)
    if match:
        return _fatal_error_signature(lines, index, match["msg"])
    match = _FATAL.match(line)
    if match:
        return f"fatal: {normalise(match['msg'])}"
    if _SIGNAL_BRACKET.match(line):
        return normalise(line)
    return _signal_header_signature(lines, index)


def crash_signature(stderr: str) -> str | None:
    """The signature of the first Go crash in `stderr` (one line, at most 200 chars), or None.

    The first `panic:`, `fatal error:`, `fatal:`, signal line, race report (`WARNING: DATA RACE`)
    or AddressSanitizer / MemorySanitizer report wins. A `fatal error:` carries the
    signal name of the `[signal …]` line under it and the fault cause printed above it; a signal
    header (`SIGABRT: abort`) notes when the signal arrived during cgo execution.
    """
    lines = [line.rstrip() for line in stderr.splitlines()]
    for index in range(len(lines)):
        signature = _signature_at(lines, index)
        if signature:
            return clip_signature(signature)
    return None


@dataclass(frozen=True)
class CgoFault:
    """A fatal signal that arrived during cgo execution, at `pc` (Go's `PC=` line)."""

    signal: str
    pc: int


def cgo_fault(stderr: str) -> CgoFault | None:
    """The signal and PC of Go's first signal report, when it says the signal arrived in C."""
    lines = [line.rstrip() for line in stderr.splitlines()]
    for index, line in enumerate(lines):
        header = _SIGNAL_HEADER.match(line)
        if not header:
            continue
        following = lines[index + 1 : index + 3]
        pc = _PC_LINE.match(following[0]) if following else None
        if pc and _CGO_NOTE in following:
            return CgoFault(header["name"], int(pc["pc"], 16))
        if pc:
            return None  # the first signal report is what killed the program; it was not in C
    return None


def corrupt_message(stderr: str) -> str | None:
    """The normalised `gxm: corrupt: …` line a fixture printed before exiting 3, or None."""
    for line in stderr.splitlines():
        if line.startswith(CORRUPT_MARKER):
            return clip_signature(normalise(line))
    return None


def own_message(stderr: str) -> str | None:
    """What a program said last on stderr (normalised), leaving out the runtime's `gctrace` lines.

    A user's program that detects wrong data prints why and exits 3 (the README's convention);
    its last words are the message, so they are the `corrupt` signature.
    """
    for line in reversed(stderr.splitlines()):
        text = line.strip()
        if text and not GCTRACE_LINE.match(text):
            return clip_signature(normalise(text))
    return None


def has_goroutine_dump(stderr: str) -> bool:
    """Whether stderr holds a goroutine dump (SIGQUIT's, or a crash traceback)."""
    return any(_GOROUTINE_HEADER.match(line) for line in stderr.splitlines())


def signal_name(number: int) -> str:
    """`SIGSEGV` for 11; `signal 99` for a number this platform has no name for."""
    try:
        return signal_module.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _exit_status(result: ExecResult) -> tuple[int | None, int | None]:
    """(exit code, signal); a negative exit code (Python's way of saying "killed") is a signal."""
    if result.exit_code is not None and result.exit_code < 0:
        return None, -result.exit_code
    return result.exit_code, result.signal


def _status_text(exit_code: int | None, signal_number: int | None) -> str:
    if exit_code is None and signal_number is not None:
        return f"killed by signal {signal_number} ({signal_name(signal_number)})"
    return f"exit status {exit_code}"


def _timeout_detail(stderr: str, dump_expected: bool) -> str:
    if has_goroutine_dump(stderr):
        return "timed out; goroutine dump present"
    if dump_expected:
        return "timed out; no goroutine dump (expected one after SIGQUIT)"
    return "timed out; no goroutine dump"


def _oom_detail(result: ExecResult) -> str:
    if result.peak_rss_bytes:
        return f"killed over its memory limit (peak RSS {result.peak_rss_bytes} bytes)"
    return "killed over its memory limit"


def classify(result: ExecResult, stderr: str, *, timeout_dump_expected: bool = True) -> Classified:
    """The outcome of one run, from what the backend observed and the run's stderr.

    Order matters: a backend failure, an OOM kill and a timeout say more than the exit status
    they caused. Exit 3 without Go crash output is `corrupt`, its signature the `gxm: corrupt: `
    line, else the program's own last stderr line; exit 0 is `pass`; anything else is a `crash`
    with the crash signature, else the corrupt line, else `exit status N` / `killed by SIGx`.
    No exit status and no signal at all is an infra error: the backend lost the process, which is
    never blamed on the cell.
    """
    if result.infra_error:
        return Classified(Outcome.INFRA_ERROR, None, result.infra_error)
    if result.oom_killed:
        return Classified(Outcome.OOM, None, _oom_detail(result))
    if result.timed_out:
        return Classified(Outcome.TIMEOUT, None, _timeout_detail(stderr, timeout_dump_expected))
    exit_code, signal_number = _exit_status(result)
    if exit_code is None and signal_number is None:
        return Classified(Outcome.INFRA_ERROR, None, "no exit status and no signal recorded")
    crash = crash_signature(stderr)
    corrupt = corrupt_message(stderr)
    if exit_code == CORRUPT_EXIT_CODE and not crash:
        message = corrupt or own_message(stderr) or "exit status 3"
        return Classified(Outcome.CORRUPT, message, "exit status 3")
    if exit_code == 0:
        return Classified(Outcome.PASS)
    status = _status_text(exit_code, signal_number)
    if exit_code is None and signal_number is not None:
        fallback = f"killed by {signal_name(signal_number)}"
    else:
        fallback = status
    return Classified(Outcome.CRASH, crash or corrupt or fallback, status)


@dataclass(frozen=True)
class FixtureReport:
    """What a fixture's result file said, or why it said nothing usable.

    `status` is one of `ok`, `missing`, `empty`, `malformed`, `wrong-schema`; only `ok` carries
    metrics and checks. `error` says what was wrong, for the logs.
    """

    status: str
    runtime_version: str | None = None
    metrics: dict[str, int | float] = field(default_factory=dict)
    checks: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    pause_histogram: dict[str, Any] | None = None  # gc_pause_histogram, checked, as written

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def _read_text(path: Path) -> str | FixtureReport:
    """The file's text, or the report saying why there is none."""
    try:
        with path.open("rb") as handle:
            data = handle.read(RESULT_MAX_BYTES + 1)
    except FileNotFoundError:
        return FixtureReport("missing", error=f"{path}: no result file")
    except OSError as exc:
        return FixtureReport("malformed", error=f"{path}: cannot read: {exc.strerror}")
    if len(data) > RESULT_MAX_BYTES:
        return FixtureReport("malformed", error=f"{path}: over {RESULT_MAX_BYTES} bytes")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return FixtureReport("malformed", error=f"{path}: not UTF-8: {exc.reason}")
    if not text.strip():
        return FixtureReport("empty", error=f"{path}: empty result file")
    return text


def _is_metric_value(value: object) -> bool:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    if isinstance(value, int):
        return abs(value) < METRIC_ABS_MAX
    return math.isfinite(value)


class _UnreadableNumber(ValueError):
    """A number in a result file no reader can take."""


def _bounded_int(text: str) -> int:
    """json's parse_int: refuses digit runs longer than int64 before Python converts them."""
    if len(text.lstrip("-")) > RESULT_INT_MAX_DIGITS:
        raise _UnreadableNumber(f"an integer of {len(text.lstrip('-'))} digits")
    return int(text)


def _no_constant(text: str) -> float:
    """json's parse_constant: NaN and Infinity are not JSON, and no reader of ours takes them."""
    raise _UnreadableNumber(f"the non-JSON number {text}")


def _report_from_document(path: Path, document: object) -> FixtureReport:
    if not isinstance(document, dict):
        return FixtureReport("malformed", error=f"{path}: not a JSON object")
    schema = document.get("schema")
    if schema != FIXTURE_SCHEMA:
        error = f"{path}: schema {schema!r}, want {FIXTURE_SCHEMA!r}"
        return FixtureReport("wrong-schema", error=error)
    version = document.get("runtime_version")
    metrics = document.get("metrics", {})
    checks = document.get("checks", {})
    if version is not None and not isinstance(version, str):
        return FixtureReport("malformed", error=f"{path}: runtime_version is not a string")
    if not isinstance(metrics, dict) or not isinstance(checks, dict):
        return FixtureReport("malformed", error=f"{path}: metrics and checks must be objects")
    bad = sorted(name for name, value in metrics.items() if not _is_metric_value(value))
    if bad:
        return FixtureReport("malformed", error=f"{path}: metrics not finite numbers: {bad}")
    histogram = document.get(pausepool.RECORD_KEY)
    if histogram is not None:
        try:
            histogram = pausepool.PauseHistogram.from_json(histogram).to_json()
        except ValueError as exc:
            return FixtureReport("malformed", error=f"{path}: {exc}")
    return FixtureReport("ok", version, dict(metrics), dict(checks), pause_histogram=histogram)


def read_fixture_result(path: Path) -> FixtureReport:
    """Read the `gxm.fixture/1` JSON a fixture wrote at GXM_RESULT.

    Never raises for the file's state: a missing, empty, truncated, non-JSON or wrong-schema file
    is a status of the report (recorded as such, never a harness crash).
    """
    text = _read_text(path)
    if isinstance(text, FixtureReport):
        return text
    try:
        document = json.loads(text, parse_int=_bounded_int, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        return FixtureReport("malformed", error=f"{path}: invalid JSON: {exc}")
    except _UnreadableNumber as exc:
        return FixtureReport("malformed", error=f"{path}: {exc} (numbers must fit int64)")
    except (ValueError, RecursionError) as exc:  # e.g. nesting deeper than the parser allows
        return FixtureReport("malformed", error=f"{path}: unreadable JSON: {type(exc).__name__}")
    return _report_from_document(path, document)


def effective_experiments(runtime_version: str) -> tuple[str, ...]:
    """The GOEXPERIMENTs a binary was built with, from its `runtime.Version()`.

    Both spellings Go uses: `go1.22.10 X:arenas,cgocheck2` and (from Go 1.26)
    `go1.26.6-X:nogreenteagc`. Only experiments differing from the toolchain default are listed,
    in the order Go prints them; a plain `go1.22.10` gives ().
    """
    match = _EXPERIMENTS.search(runtime_version)
    if not match:
        return ()
    names = [name for name in match["list"].split(",") if name]
    return tuple(dict.fromkeys(names))

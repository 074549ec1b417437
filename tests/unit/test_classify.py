"""harness.classify against real crash captures (tests/data/crashes) and result files."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from harness import symbolize
from harness.classify import (
    cgo_fault,
    classify,
    crash_signature,
    effective_experiments,
    has_goroutine_dump,
    normalise,
    read_fixture_result,
)
from harness.model import ExecResult, Outcome

DATA = Path(__file__).resolve().parent.parent / "data"
CRASHES = DATA / "crashes"
RESULTS = DATA / "results"
SYMBOLIZE = DATA / "symbolize"
CAPTURES = sorted(CRASHES.glob("*.json"))

# Programs that are the same crash kind: their signatures must be equal.
SAME_KIND = {"c_segv_traceback_crash": "c_segv"}
# Programs whose message really differs between Go 1.22 and 1.26 (so the signatures do too).
MESSAGE_CHANGED = {"cgo_unpinned"}


def load_capture(sidecar: Path) -> tuple[dict, str]:
    return json.loads(sidecar.read_text()), sidecar.with_suffix(".stderr").read_text()


def exec_result(meta: dict, *, timed_out: bool | None = None) -> ExecResult:
    return ExecResult(
        exit_code=meta["exit_code"],
        signal=meta["signal"],
        timed_out=meta["timed_out"] if timed_out is None else timed_out,
        oom_killed=False,
        seconds=1.0,
    )


def signature_of(program: str, minor: str) -> str | None:
    meta, stderr = load_capture(CRASHES / f"{program}.go{minor}.json")
    return classify(exec_result(meta), stderr).signature


def test_captures_cover_the_required_kinds() -> None:
    programs = {json.loads(p.read_text())["program"] for p in CAPTURES}
    required = {
        "panic_nil_map", "panic_index", "nil_deref", "concurrent_map_writes", "deadlock",
        "cgo_unpinned", "cgocheck2_store", "c_segv", "c_abort", "sigquit_hang",
        "arena_use_after_free", "corrupt_probe", "clean_run",
    }  # fmt: skip
    assert required <= programs
    versions = {json.loads(p.read_text())["go"].rsplit(".", 1)[0] for p in CAPTURES}
    assert versions == {"1.22", "1.26"}


@pytest.mark.parametrize("sidecar", CAPTURES, ids=[p.stem for p in CAPTURES])
def test_capture_classifies_as_expected(sidecar: Path) -> None:
    meta, stderr = load_capture(sidecar)
    classified = classify(exec_result(meta), stderr)
    assert classified.outcome == Outcome(meta["expected_outcome"])
    assert classified.signature == meta["expected_signature"]
    if "expected_detail" in meta:
        assert classified.detail == meta["expected_detail"]


@pytest.mark.parametrize("sidecar", CAPTURES, ids=[p.stem for p in CAPTURES])
def test_capture_signature_is_one_normalised_line(sidecar: Path) -> None:
    _, stderr = load_capture(sidecar)
    signature = crash_signature(stderr)
    if signature is None:
        return
    assert "\n" not in signature and len(signature) <= 200
    assert not re.search(r"0x[0-9a-f]", signature), "addresses must be normalised"
    assert not re.search(r"(?<![\w.])\d(?!x\?)", signature), (
        "free-standing numbers must be normalised"
    )


@pytest.mark.parametrize(
    "program",
    sorted(
        {json.loads(p.read_text())["program"] for p in CAPTURES}
        - MESSAGE_CHANGED
        - {"clean_run", "sigquit_hang"}
    ),
)
def test_same_crash_on_122_and_126_has_the_same_signature(program: str) -> None:
    on_122 = signature_of(program, "1.22")
    assert on_122 is not None
    assert on_122 == signature_of(program, "1.26")


def test_a_changed_message_gives_a_different_signature() -> None:
    assert signature_of("cgo_unpinned", "1.22") != signature_of("cgo_unpinned", "1.26")


def recorded_signature(sidecar: Path) -> str | None:
    """The signature a run record gets: from Go's report, or naming the C function where the
    capture has the binary's eu-addr2line output at the fault (tests/data/symbolize)."""
    meta, stderr = load_capture(sidecar)
    signature = classify(exec_result(meta), stderr).signature
    frame_output = SYMBOLIZE / sidecar.with_suffix(".eu-addr2line.txt").name
    fault = cgo_fault(stderr)
    if fault is not None and frame_output.is_file():
        frames = symbolize.parse_addr2line(frame_output.read_text())
        signature = symbolize.c_signature(fault, frames) or signature
    return signature


def test_different_crash_kinds_have_different_signatures() -> None:
    """Two C bugs (c_null_read, c_write_overflow) differ only by the C function they name."""
    by_kind: dict[str, set[str | None]] = {}
    for sidecar in CRASHES.glob("*.go1.22.json"):
        meta, _ = load_capture(sidecar)
        if meta["expected_outcome"] in ("crash", "corrupt"):
            kind = SAME_KIND.get(meta["program"], meta["program"])
            by_kind.setdefault(kind, set()).add(recorded_signature(sidecar))
    assert all(len(signatures) == 1 for signatures in by_kind.values()), by_kind
    signatures = [next(iter(s)) for s in by_kind.values()]
    assert len(set(signatures)) == len(signatures) >= 10


def test_sigquit_dump_without_timeout_is_a_crash() -> None:
    meta, stderr = load_capture(CRASHES / "sigquit_hang.go1.26.json")
    classified = classify(exec_result(meta, timed_out=False), stderr)
    assert classified.outcome is Outcome.CRASH
    assert classified.signature == "SIGQUIT: quit"


def test_timeout_detail_says_whether_a_dump_is_present() -> None:
    hung = ExecResult(exit_code=None, signal=9, timed_out=True, oom_killed=False, seconds=60.0)
    _, dump = load_capture(CRASHES / "sigquit_hang.go1.22.json")
    assert has_goroutine_dump(dump)
    assert classify(hung, dump).detail == "timed out; goroutine dump present"
    assert "expected one after SIGQUIT" in (classify(hung, "").detail or "")
    assert classify(hung, "", timeout_dump_expected=False).detail == "timed out; no goroutine dump"
    assert classify(hung, dump).signature is None


def test_infra_error_and_oom_win_over_the_exit_status() -> None:
    broken = ExecResult(2, None, False, False, 0.0, infra_error="engine went away")
    assert classify(broken, "panic: boom\n").outcome is Outcome.INFRA_ERROR
    oom = ExecResult(None, 9, False, True, 3.0, peak_rss_bytes=1 << 30)
    classified = classify(oom, "")
    assert classified.outcome is Outcome.OOM and "1073741824" in (classified.detail or "")
    lost = ExecResult(None, None, False, False, 0.0)
    assert classify(lost, "").outcome is Outcome.INFRA_ERROR


@pytest.mark.parametrize(
    ("exit_code", "signal", "stderr", "outcome", "signature"),
    [
        (0, None, "", Outcome.PASS, None),
        (1, None, "some log line\n", Outcome.CRASH, "exit status 1"),
        (3, None, "", Outcome.CORRUPT, "exit status 3"),
        # A user's program exits 3 and says why in its own words (README): corrupt, that message.
        (
            3,
            None,
            "log line\nchecksum mismatch at block 7\n",
            Outcome.CORRUPT,
            "checksum mismatch at block N",
        ),
        (
            3,
            None,
            "bad data\ngc 1 @0.004s 2%: 0.01+0.2+0.01 ms clock\n",
            Outcome.CORRUPT,
            "bad data",
        ),
        (3, None, "gxm: corrupt: bad byte 7\n", Outcome.CORRUPT, "gxm: corrupt: bad byte N"),
        (
            3,
            None,
            "gxm: corrupt: bad byte 7\nfatal error: concurrent map writes\n",
            Outcome.CRASH,
            "fatal error: concurrent map writes",
        ),
        (None, 9, "", Outcome.CRASH, "killed by SIGKILL"),
        (-11, None, "", Outcome.CRASH, "killed by SIGSEGV"),
        (2, None, "panic: boom [recovered]\n\tpanic: again\n", Outcome.CRASH, "panic: boom"),
    ],
)
def test_exit_status_rules(
    exit_code: int | None, signal: int | None, stderr: str, outcome: Outcome, signature: str | None
) -> None:
    result = ExecResult(exit_code, signal, False, False, 1.0)
    classified = classify(result, stderr)
    assert (classified.outcome, classified.signature) == (outcome, signature)


def test_unexpected_signal_in_runtime_code_names_the_signal() -> None:
    # Not captured (no small program provokes a fault in runtime code); the lines are the ones
    # runtime.sigpanic prints via throw() in Go 1.22 and 1.26 (see SOURCES.md).
    stderr = (
        "fatal error: unexpected signal during runtime execution\n"
        "[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x7f3a1c2b4d5e]\n\n"
        "runtime stack:\nruntime.throw({0x4a5b6c?, 0x0?})\n"
    )
    assert crash_signature(stderr) == (
        "fatal error: unexpected signal during runtime execution [SIGSEGV]"
    )


def test_signature_is_clipped_to_200_chars() -> None:
    signature = crash_signature("panic: " + "x" * 500 + "\n")
    assert signature is not None and len(signature) == 200


def test_bare_signal_bracket_line_is_a_signature() -> None:
    stderr = "[signal SIGBUS: bus error code=0x2 addr=0x7f00 pc=0x4011]\n"
    assert crash_signature(stderr) == "[signal SIGBUS: bus error code=0x? addr=0x? pc=0x?]"


def test_no_marker_no_signature() -> None:
    assert crash_signature("hello\nSIGNAL: not go's header\n") is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("index out of range [5] with length 3", "index out of range [N] with length N"),
        ("goroutine 17 at 0xc000123456", "goroutine N at 0x?"),
        ("go1.22.10 X:cgocheck2 took 1.5s", "go1.22.10 X:cgocheck2 took 1.5s"),
        ("took 1.5 s,  then   -3", "took N s, then -N"),
    ],
)
def test_normalise(text: str, expected: str) -> None:
    assert normalise(text) == expected


@pytest.mark.parametrize("sample", sorted(RESULTS.glob("*.json")), ids=lambda p: p.stem)
def test_real_result_files_read_ok(sample: Path) -> None:
    report = read_fixture_result(sample)
    assert report.ok, report.error
    assert report.runtime_version and report.runtime_version.startswith("go1.")
    assert report.metrics["gc_cycles"] > 0 and report.metrics["ops"] > 0
    assert 0 <= report.metrics["gc_cpu_fraction"] <= 1
    assert report.metrics["gc_pause_p50_ns"] <= report.metrics["gc_pause_p99_ns"]
    assert report.metrics["gc_pause_p99_ns"] <= report.metrics["gc_pause_max_ns"]


def test_arenas_result_records_the_experiment() -> None:
    report = read_fixture_result(RESULTS / "gc_small_objects.go1.26-arenas.json")
    assert effective_experiments(report.runtime_version or "") == ("arenas",)


@pytest.mark.parametrize(
    ("content", "status"),
    [
        (None, "missing"),
        (b"", "empty"),
        (b"  \n", "empty"),
        (b'{"schema":"gxm.fixture/1","metrics":{"gc_cyc', "malformed"),
        (b"[1, 2]", "malformed"),
        (b"\xff\xfe", "malformed"),
        (b'{"schema":"gxm.fixture/2","metrics":{}}', "wrong-schema"),
        (b'{"metrics":{}}', "wrong-schema"),
        (b'{"schema":"gxm.fixture/1","metrics":{"ops":"many"}}', "malformed"),
        (b'{"schema":"gxm.fixture/1","metrics":{"ops":true}}', "malformed"),
        (b'{"schema":"gxm.fixture/1","metrics":{"ops":NaN}}', "malformed"),
        (b'{"schema":"gxm.fixture/1","metrics":[]}', "malformed"),
        (b'{"schema":"gxm.fixture/1","runtime_version":7}', "malformed"),
        (b'{"schema":"gxm.fixture/1"}', "ok"),
    ],
)
def test_result_file_states(tmp_path: Path, content: bytes | None, status: str) -> None:
    path = tmp_path / "result.json"
    if content is not None:
        path.write_bytes(content)
    report = read_fixture_result(path)
    assert report.status == status
    assert (report.error is None) == (status == "ok")
    if status != "ok":
        assert report.metrics == {} and report.checks == {}


def test_truncated_real_result_is_malformed(tmp_path: Path) -> None:
    whole = (RESULTS / "cmem_finalizer.go1.22.json").read_bytes()
    path = tmp_path / "cut.json"
    path.write_bytes(whole[: len(whole) // 2])
    assert read_fixture_result(path).status == "malformed"


def test_directory_instead_of_result_is_malformed(tmp_path: Path) -> None:
    report = read_fixture_result(tmp_path)
    assert report.status == "malformed" and "cannot read" in (report.error or "")


def test_ok_result_keeps_metrics_and_checks(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    document = {
        "schema": "gxm.fixture/1",
        "runtime_version": "go1.22.10 X:arenas",
        "metrics": {"gc_cycles": 3, "gc_cpu_fraction": 0.25},
        "checks": {"handles_created": 10, "note": "x"},
    }
    path.write_text(json.dumps(document))
    report = read_fixture_result(path)
    assert report.ok
    assert report.runtime_version == "go1.22.10 X:arenas"
    assert report.metrics == {"gc_cycles": 3, "gc_cpu_fraction": 0.25}
    assert report.checks == {"handles_created": 10, "note": "x"}


@pytest.mark.parametrize(
    ("version", "experiments"),
    [
        ("go1.22.10 X:arenas,cgocheck2", ("arenas", "cgocheck2")),
        ("go1.26.6-X:arenas,cgocheck2", ("arenas", "cgocheck2")),
        ("go1.26.6-X:nogreenteagc", ("nogreenteagc",)),
        ("go1.21.13 X:arenas", ("arenas",)),
        ("go1.22.10", ()),
        ("go1.26.6", ()),
        ("devel go1.27-1a2b3c4 Tue Nov 3 10:00:00 2026 +0000 X:greenteagc", ("greenteagc",)),
        ("", ()),
    ],
)
def test_effective_experiments(version: str, experiments: tuple[str, ...]) -> None:
    assert effective_experiments(version) == experiments


# --- hostile result files and long crash output (reliability) ------------------------------------


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ('{"schema":"gxm.fixture/1","metrics":{"ops":' + "9" * 5001 + "}}", "5001 digits"),
        ('{"schema":"gxm.fixture/1","metrics":{"ops":' + "9" * 400 + "}}", "400 digits"),
        ('{"schema":"gxm.fixture/1","checks":{"n":-' + "1" * 30 + "}}", "30 digits"),
        ('{"schema":"gxm.fixture/1","metrics":{"ops":1e400}}', "not finite"),
        ('{"schema":"gxm.fixture/1","checks":{"x":NaN}}', "NaN"),
        ("[" * 100_000 + "]" * 100_000, "RecursionError"),
    ],
    ids=["5001-digit", "400-digit-metric", "30-digit-check", "1e400", "NaN-check", "deep"],
)
def test_hostile_result_files_are_malformed_never_a_crash(
    tmp_path: Path, body: str, says: str
) -> None:
    """A 5001-digit integer raised ValueError in json.loads, a 400-digit metric OverflowError
    in math.isfinite: the run was lost with a traceback instead of being recorded."""
    path = tmp_path / "result.json"
    path.write_text(body)
    report = read_fixture_result(path)
    assert report.status == "malformed" and says in (report.error or "")


def test_the_fatal_line_is_found_above_a_long_dump(tmp_path: Path) -> None:
    """`fatal error: newosproc` followed by a 650 KB goroutine dump got the signature
    `exit status 2`: only the last 256 KiB of stderr were searched."""
    from harness.run import read_head_and_tail

    dump = "".join(
        f"goroutine {n} [running]:\nmain.f()\n\t/x/main.go:{n} +0x1d\n\n" for n in range(20000)
    )
    stderr = tmp_path / "run.stderr"
    stderr.write_text("runtime: failed to create new OS thread\nfatal error: newosproc\n\n" + dump)
    assert stderr.stat().st_size > 650_000
    classified = classify(ExecResult(2, None, False, False, 1.0), read_head_and_tail(stderr))
    assert classified.outcome is Outcome.CRASH
    assert classified.signature == "fatal error: newosproc"

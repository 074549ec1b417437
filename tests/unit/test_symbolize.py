"""harness.symbolize against real captures of crashes inside C (tests/data/symbolize, crashes)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness import symbolize
from harness.classify import CgoFault, cgo_fault, classify
from harness.model import ExecResult
from harness.symbolize import CFrame

DATA = Path(__file__).resolve().parent.parent / "data"
CRASHES = DATA / "crashes"
SYMBOLIZE = DATA / "symbolize"
C_CRASHES = [f"{name}.go{minor}" for name in ("c_null_read", "c_write_overflow")
             for minor in ("1.22", "1.26")]  # fmt: skip
FUNCTION = {"c_null_read": "sdk_parse_header", "c_write_overflow": "sdk_unmask_payload"}
CALLER = {"c_null_read": "sdk_decode_frame", "c_write_overflow": "sdk_read_frame"}
SOURCE_LINE = {"c_null_read": 20, "c_write_overflow": 19}


def meta(stem: str) -> dict:
    return json.loads((CRASHES / f"{stem}.json").read_text())


def program(stem: str) -> str:
    return stem.split(".", 1)[0]


@pytest.mark.parametrize("stem", C_CRASHES)
def test_the_fault_and_its_pc_come_from_gos_report(stem: str) -> None:
    fault = cgo_fault((CRASHES / f"{stem}.stderr").read_text())
    assert fault == CgoFault("SIGSEGV", int(meta(stem)["pc"], 16))


@pytest.mark.parametrize("stem", C_CRASHES)
def test_gotraceback_crash_reports_the_same_fault_first(stem: str) -> None:
    """With GOTRACEBACK=crash the SIGQUIT reports of other threads follow; the first one counts."""
    crash = (SYMBOLIZE / f"{stem}.crash.stderr").read_text()
    assert crash.count("PC=0x") > 1
    assert cgo_fault(crash) == CgoFault("SIGSEGV", int(meta(stem)["pc"], 16))


@pytest.mark.parametrize(
    "capture",
    ["nil_deref.go1.22", "go_read_unmapped.go1.26", "panic_index.go1.22", "sigquit_hang.go1.26",
     "cgocheck2_store.go1.22", "c_thread_segv.go1.22", "clean_run.go1.26"],
)  # fmt: skip
def test_crashes_outside_c_have_no_cgo_fault(capture: str) -> None:
    assert cgo_fault((CRASHES / f"{capture}.stderr").read_text()) is None


@pytest.mark.parametrize("capture", ["c_segv.go1.22", "c_abort.go1.26"])
def test_the_older_c_captures_are_cgo_faults_too(capture: str) -> None:
    fault = cgo_fault((CRASHES / f"{capture}.stderr").read_text())
    assert fault is not None and fault.signal in ("SIGSEGV", "SIGABRT")


@pytest.mark.parametrize("stem", C_CRASHES)
def test_eu_addr2line_names_the_function_its_inlined_caller_and_lines(stem: str) -> None:
    frames = symbolize.parse_addr2line((SYMBOLIZE / f"{stem}.eu-addr2line.txt").read_text())
    name = program(stem)
    assert [f.function for f in frames[:2]] == [FUNCTION[name], CALLER[name]]
    assert frames[0].file is not None and frames[0].file.endswith(f"cmd/{name}/main.go")
    assert frames[0].line == SOURCE_LINE[name]
    assert frames[2].function.endswith(f"_Cfunc_{CALLER[name]}")


def test_binutils_reads_go_122_c_lines_but_only_the_cgo_wrapper_of_go_126() -> None:
    old = symbolize.parse_addr2line((SYMBOLIZE / "c_null_read.go1.22.addr2line.txt").read_text())
    new = symbolize.parse_addr2line((SYMBOLIZE / "c_null_read.go1.26.addr2line.txt").read_text())
    assert old[0] == CFrame("sdk_parse_header", old[0].file, 20)
    assert len(new) == 1 and new[0].file is None
    assert symbolize.c_function(new) == "sdk_decode_frame"  # `_cgo_<hash>_Cfunc_` dropped


def test_a_long_c_plus_plus_name_is_clipped_like_every_signature() -> None:
    name = "sdk::detail::Decoder<std::vector<unsigned char>>::parse(" + "char const*, " * 30 + ")"
    signature = symbolize.c_signature(CgoFault("SIGSEGV", 1), (CFrame(name),))
    assert signature is not None and len(signature) == 200 and signature.endswith("…")


def test_unknown_address_gives_no_frame() -> None:
    assert symbolize.parse_addr2line("??\n??:0\n") == ()
    assert symbolize.c_signature(CgoFault("SIGABRT", 1), ()) is None


@pytest.mark.parametrize("stem", C_CRASHES)
def test_signature_names_the_c_function(stem: str) -> None:
    text = (SYMBOLIZE / f"{stem}.tool-output.txt").read_text()
    fault = cgo_fault((CRASHES / f"{stem}.stderr").read_text())
    assert fault is not None
    parsed = symbolize.parse_tool_output(text)
    assert symbolize.c_signature(fault, parsed.frames) == meta(stem)["expected_c_signature"]


def test_two_c_bugs_in_one_module_get_two_signatures_on_both_go_versions() -> None:
    signatures = {}
    for stem in C_CRASHES:
        stderr = (CRASHES / f"{stem}.stderr").read_text()
        old = classify(ExecResult(2, None, False, False, 1.0), stderr).signature
        frames = symbolize.parse_addr2line((SYMBOLIZE / f"{stem}.eu-addr2line.txt").read_text())
        fault = cgo_fault(stderr)
        assert fault is not None
        signatures[stem] = (old, symbolize.c_signature(fault, frames))
    assert len({old for old, _ in signatures.values()}) == 1  # Go's report alone: one bucket
    by_program = {program(stem): new for stem, (_, new) in signatures.items()}
    assert by_program == {name: f"SIGSEGV in {fn}" for name, fn in FUNCTION.items()}
    assert all(new == by_program[program(stem)] for stem, (_, new) in signatures.items())


@pytest.mark.parametrize("stem", C_CRASHES)
def test_gdb_backtrace_is_the_c_caller_chain_with_file_and_line(stem: str) -> None:
    parsed = symbolize.parse_tool_output((SYMBOLIZE / f"{stem}.tool-output.txt").read_text())
    name = program(stem)
    assert parsed.frame_tool == "eu-addr2line" and parsed.backtrace_tool == "gdb"
    lines = parsed.backtrace.splitlines()
    assert FUNCTION[name] in lines[0] and f"main.go:{SOURCE_LINE[name]}" in lines[0]
    assert CALLER[name] in lines[1] and "main.go:" in lines[1]
    assert "_Cfunc_" in lines[2] and "runtime.asmcgocall" in lines[3]
    assert not any("runtime.raise" in line for line in lines)  # Go's re-raise is cut off


@pytest.mark.parametrize("stem", C_CRASHES)
def test_eu_stack_backtrace_of_the_crashing_thread(stem: str) -> None:
    text = (SYMBOLIZE / f"{stem}.eu-stack.txt").read_text()
    backtrace = symbolize.crashing_thread_backtrace(text)
    name = program(stem)
    first, caller = backtrace.split("\n#")[:2]
    assert FUNCTION[name] in first and f"main.go:{SOURCE_LINE[name]}" in first
    assert CALLER[name] in caller
    assert "TID" not in backtrace and "__restore_rt" not in backtrace


def test_no_core_means_no_backtrace_section() -> None:
    text = "--- frame\ntool eu-addr2line\nsdk_f\n/src/a.c:3:1\n"
    parsed = symbolize.parse_tool_output(text)
    assert parsed.frames == (CFrame("sdk_f", "/src/a.c", 3),)
    assert parsed.backtrace_tool is None and parsed.backtrace == ""


def test_backtrace_text_says_why_it_is_missing() -> None:
    crash = symbolize.NativeCrash(
        CgoFault("SIGSEGV", 0x4D8AF9), (CFrame("sdk_f", "/src/a.c", 3),), "eu-addr2line",
        note="the kernel pipes core dumps to systemd-coredump",
    )  # fmt: skip
    text = crash.text(Path("/bin/fixture"))
    assert "sdk_f at /src/a.c:3" in text and "0x4d8af9" in text
    assert "no full backtrace: the kernel pipes core dumps to systemd-coredump" in text


@pytest.mark.parametrize(
    ("pattern", "problem"),
    [
        ("core", None),
        ("core.%e.%p", None),
        ("|/usr/lib/systemd/systemd-coredump %P %u %g %s %t %c %h", "systemd-coredump"),
        ("|/usr/share/apport/apport -p%p -s%s -c%c -d%d -P%P -u%u -g%g -- %E", "apport"),
        ("|/usr/local/bin/dumper %p", "dumper"),
        ("/var/crash/core.%e.%p", "absolute path"),
        ("", "empty"),
    ],
)  # fmt: skip
def test_core_pattern_problems_say_where_cores_go(pattern: str, problem: str | None) -> None:
    found = symbolize.core_pattern_problem(pattern + "\n")
    assert (found is None) == (problem is None)
    if problem:
        assert found is not None and problem in found


def test_core_support_follows_the_core_pattern(tmp_path: Path) -> None:
    pattern = tmp_path / "core_pattern"
    pattern.write_text("|/usr/lib/systemd/systemd-coredump %P\n")
    for backend in ("local", "docker"):
        support = symbolize.core_support(backend, pattern)
        assert not support.available and "systemd-coredump" in support.reason
    pattern.write_text("core\n")
    assert symbolize.core_support("docker", pattern).available
    missing = symbolize.core_support("local", tmp_path / "absent")
    assert not missing.available and "cannot read" in missing.reason


def test_core_files_are_found_by_their_elf_type(tmp_path: Path) -> None:
    elf_header = b"\x7fELF\x02\x01\x01" + bytes(9)
    (tmp_path / "core").write_bytes(elf_header + (4).to_bytes(2, "little") + bytes(64))
    (tmp_path / "odd-name.dump").write_bytes(elf_header + (4).to_bytes(2, "little"))
    (tmp_path / "program").write_bytes(elf_header + (2).to_bytes(2, "little") + bytes(64))
    (tmp_path / "core.txt").write_text("not a core\n")
    (tmp_path / "dir").mkdir()
    found = symbolize.find_cores(tmp_path)
    assert [p.name for p in found] == ["core", "odd-name.dump"]
    assert symbolize.find_cores(tmp_path / "absent") == []
    for fake in found:
        fake.unlink()  # they look like cores to anything that checks for leftover cores


def test_eu_stack_in_a_minimal_container_names_no_signal_frame_and_still_finds_the_c_code() -> None:
    """The base image's libc has no symbols: the signal frame under runtime.sigtramp is a bare
    address there, and the backtrace still starts at the faulting C function."""
    text = (SYMBOLIZE / "c_null_read.go1.22.container-eu-stack.txt").read_text()
    frames = symbolize.crashing_thread_backtrace(text).split("\n#")
    assert "sdk_parse_header" in frames[0] and "/src/cmd/c_null_read/main.go:20" in frames[0]
    assert "sdk_decode_frame" in frames[1] and "_Cfunc_sdk_decode_frame" in frames[2]
    assert "runtime.asmcgocall" in frames[3] and len(frames) == 4


def test_doctor_says_why_full_backtraces_are_missing(tmp_path: Path) -> None:
    pattern = tmp_path / "core_pattern"
    pattern.write_text("|/usr/share/apport/apport -p%p -s%s -c%c -d%d -P%P -u%u -g%g -- %E\n")
    rows = {check: (status, fix) for check, status, fix in symbolize.doctor_rows("", pattern)}
    for backend in ("local", "docker"):
        status, fix = rows[f"C backtraces from cores ({backend})"]
        assert status.startswith("unavailable: the kernel pipes core dumps to apport")
        assert fix == "signatures still name the faulting C function"
    pattern.write_text("core\n")
    rows = {check: (status, fix) for check, status, fix in
            symbolize.doctor_rows("golang:1.22-bookworm", pattern)}  # fmt: skip
    status, fix = rows["C backtraces from cores (docker)"]
    assert status.startswith("ok: core_pattern 'core'") and "golang:1.22-bookworm needs" in fix

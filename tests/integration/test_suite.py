"""The fixture suite built with a real Go 1.22 under default / arenas / cgocheck2, and the fixtures
whose expected outcome differs between those columns run and classified by harness.classify:
what fixtures.yaml promises must be what the real binaries do."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from harness import goenv, toolchains
from harness.classify import classify, read_fixture_result
from harness.fixtures import fixture_applies, load_fixtures
from harness.hostcmd import run_command
from harness.model import Cell, Classified, ExecResult, Outcome

pytestmark = pytest.mark.integration

FIXTURES_DIR = Path(__file__).resolve().parents[2] / "go_fixtures"
FIXTURES = load_fixtures(FIXTURES_DIR / "fixtures.yaml")
GO = "1.22"
COLUMNS = ("", "arenas", "cgocheck2")
RUN_TIMEOUT_S = 60.0

# (fixture, column, the signature must contain this); every case also checks fixtures.yaml.
CASES = [
    ("c_stores_gopointer", "", None),
    ("c_stores_gopointer", "cgocheck2", "unpinned Go pointer stored into non-Go memory"),
    ("c_stores_gopointer", "arenas", None),
    ("nested_gopointer", "", "cgo argument has Go pointer to unpinned Go pointer"),
    ("nested_gopointer", "cgocheck2", "cgo argument has Go pointer to unpinned Go pointer"),
    ("nested_gopointer_pinned", "cgocheck2", None),
    ("arena_uaf", "arenas", "accessed data from freed user arena"),
    ("arena_finalizer", "arenas", "first argument was allocated into an arena"),
    ("arena_holds_heap_pointer", "arenas", None),
    ("gobuf_to_c_no_keepalive", "", None),
    ("gobuf_to_c_uintptr", "", "gxm: corrupt: "),
    ("cmem_no_keepalive", "", "gxm: corrupt: "),
]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """GOEXPERIMENT -> directory with every fixture binary, from one `go build ./cmd/...` each
    (the harness builds a cell the same way, so no fixture may break another's build)."""
    toolchain = toolchains.provision(GO, goenv.cache_dir())
    gocache = goenv.cache_dir() / "gocache" / f"go{toolchain.version}"
    out = tmp_path_factory.mktemp("suite")
    dirs = {}
    for goexperiment in COLUMNS:
        target = out / (goexperiment or "default")
        run_command(
            [str(toolchain.go), "build", "-o", f"{target}/", "./cmd/..."],
            timeout_s=900,
            env=goenv.go_env(toolchain, goexperiment, gocache, {}),
            cwd=FIXTURES_DIR,
        )
        dirs[goexperiment] = target
    return dirs


def run_and_classify(binary: Path, result: Path) -> tuple[Classified, str]:
    env = {"PATH": "/usr/bin:/bin", "GXM_DURATION": "0.2", "GXM_SEED": "5"}
    env["GXM_RESULT"] = str(result)
    started = time.monotonic()
    proc = subprocess.run(
        [str(binary)], env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT_S
    )
    code = proc.returncode
    observed = ExecResult(
        exit_code=code if code >= 0 else None,
        signal=-code if code < 0 else None,
        timed_out=False,
        oom_killed=False,
        seconds=time.monotonic() - started,
    )
    return classify(observed, proc.stderr), proc.stderr


def test_every_fixture_has_a_binary_in_every_column(built: dict[str, Path]) -> None:
    for goexperiment, directory in built.items():
        missing = [f.name for f in FIXTURES.values() if not (directory / f.binary_name).is_file()]
        assert missing == [], f"GOEXPERIMENT={goexperiment!r}"


@pytest.mark.parametrize(
    ("name", "goexperiment", "signature"),
    CASES,
    ids=[f"{name}-{exp or 'default'}" for name, exp, _ in CASES],
)
def test_outcome_is_what_fixtures_yaml_expects(
    built: dict[str, Path], tmp_path: Path, name: str, goexperiment: str, signature: str | None
) -> None:
    fixture = FIXTURES[name]
    assert fixture_applies(fixture, Cell(GO, goexperiment)) is None
    result = tmp_path / "result.json"
    classified, stderr = run_and_classify(built[goexperiment] / fixture.binary_name, result)
    expected = fixture.expected_outcomes(goexperiment)
    assert classified.outcome in expected, stderr[-2000:]
    if signature:
        assert signature in (classified.signature or stderr), stderr[-2000:]
    if classified.outcome is Outcome.PASS:
        report = read_fixture_result(result)
        assert report.status == "ok" and report.metrics["ops"] > 0
    else:
        assert Outcome.PASS not in expected or len(expected) > 1


def test_c_stores_gopointer_is_the_column_difference(
    built: dict[str, Path], tmp_path: Path
) -> None:
    """The default check misses the stored Go pointer; cgocheck2 catches it."""
    binary = FIXTURES["c_stores_gopointer"].binary_name
    default, _ = run_and_classify(built[""] / binary, tmp_path / "a.json")
    checked, _ = run_and_classify(built["cgocheck2"] / binary, tmp_path / "b.json")
    assert (default.outcome, checked.outcome) == (Outcome.PASS, Outcome.CRASH)
    assert checked.signature == "fatal error: unpinned Go pointer stored into non-Go memory"


def test_arena_fixtures_are_unsupported_without_arenas(built: dict[str, Path]) -> None:
    arena_fixtures = [f for f in FIXTURES.values() if "arenas" in f.requires_experiments]
    assert {f.name for f in arena_fixtures} >= {"arena_sdk", "arena_uaf", "gc_arena_batches"}
    for fixture in arena_fixtures:
        assert fixture_applies(fixture, Cell(GO, "")) is not None
        assert fixture_applies(fixture, Cell(GO, "cgocheck2")) is not None
        assert fixture_applies(fixture, Cell(GO, "arenas,cgocheck2")) is None
        stub = subprocess.run(
            [str(built[""] / fixture.binary_name)], capture_output=True, text=True, timeout=30
        )
        assert stub.returncode == 2 and "needs a build with GOEXPERIMENT=arenas" in stub.stderr

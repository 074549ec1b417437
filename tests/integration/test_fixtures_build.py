"""go_fixtures built with real Go 1.22 and 1.26 toolchains (default and arenas), each fixture run
briefly: it must pass and write a result file that harness.classify reads as `ok`."""

from __future__ import annotations

import math
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness import goenv, pausepool, toolchains
from harness.classify import effective_experiments, read_fixture_result
from harness.fixtures import fixture_applies, load_fixtures
from harness.hostcmd import run_command
from harness.matrix import load_matrix
from harness.model import Cell, Fixture, Outcome, Toolchain

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
FIXTURES_DIR = REPO / "go_fixtures"
CATALOGUE = load_fixtures(FIXTURES_DIR / "fixtures.yaml")
GO_MINORS = ("1.22", "1.26")
EXPERIMENTS = ("", "arenas")
BUILD_CELLS = [(minor, experiment) for minor in GO_MINORS for experiment in EXPERIMENTS]
RUN_TIMEOUT_S = 30.0


def toolchain(minor: str) -> Toolchain:
    """Go 1.<minor> from the user's gxm cache, provisioned there on first use (real pip)."""
    return toolchains.provision(minor, goenv.cache_dir())


def go_env(minor: str, goexperiment: str) -> dict[str, str]:
    """The harness's own allow-listed Go environment, with the shared per-version GOCACHE."""
    chain = toolchain(minor)
    gocache = goenv.cache_dir() / "gocache" / f"go{chain.version}"
    return goenv.go_env(chain, goexperiment, gocache, {})


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Build caches and binaries of this module's tests, removed afterwards (GOCACHE is big)."""
    path = tmp_path_factory.mktemp("go-fixtures")
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(
    scope="module", params=BUILD_CELLS, ids=[f"go{m}-{e or 'default'}" for m, e in BUILD_CELLS]
)
def built(request: pytest.FixtureRequest, scratch: Path) -> tuple[str, str, Path]:
    """(minor, goexperiment, directory holding every fixture binary)."""
    minor, goexperiment = request.param
    out = scratch / f"bin-go{minor}-{goexperiment or 'default'}"
    run_command(
        [str(toolchain(minor).go), "build", "-o", str(out) + "/", "./cmd/..."],
        timeout_s=900,
        env=go_env(minor, goexperiment),
        cwd=FIXTURES_DIR,
    )
    return minor, goexperiment, out


def run_fixture(binary: Path, result: Path, **knobs: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "GXM_DURATION": "0.5", "GXM_SEED": "7"}
    env |= {"GXM_RESULT": str(result), **knobs}
    return subprocess.run(
        [str(binary)], env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT_S
    )


# Bench fixtures whose pauses cannot be made many by running longer, and why (go_fixtures/README).
FEW_PAUSES_BY_DESIGN = {
    "gc_arena_batches": "its arena phase has 2-3 GC cycles however long it runs (none after "
    "the heap goal settles: the batches live in arenas)",
}


def nightly_bench_repeats() -> int:
    """Measured bench runs per cell in the shipped nightly profile (the fewest over its cells)."""
    cells = load_matrix(REPO / "matrix.yaml", "nightly").cells
    return min(plan.settings.repeats_bench for plan in cells)


def test_bench_runs_hold_enough_pauses_for_a_nightly_pooled_p99(
    built: tuple[str, str, Path], tmp_path: Path
) -> None:
    """Every bench fixture, even run far shorter than its nightly 1 s (as a descheduled run on a
    busy machine is), ends with enough GC pauses that a nightly cell's runs pool to the pauses a
    p99 needs: a 64 MiB live heap has a few cycles a second, which left its cells at ~50."""
    minor, goexperiment, out = built
    needed = math.ceil(pausepool.MIN_PAUSES_FOR_P99 / nightly_bench_repeats())
    bench = [f for f in pass_expected(minor, goexperiment) if f.kind == "bench"]
    names = {f.name for f in bench}
    assert {"gc_small_objects", "gc_live_heap", "gc_cgo_mixed", "gc_short_cycles"} <= names
    for fixture in bench:
        result = tmp_path / f"{fixture.name}.json"
        proc = run_fixture(out / fixture.binary_name, result, GXM_DURATION="0.02")
        assert (proc.returncode, proc.stderr) == (0, ""), fixture.name
        if fixture.name not in FEW_PAUSES_BY_DESIGN:
            assert read_fixture_result(result).metrics["gc_pauses"] >= needed, fixture.name


def test_gc_short_cycles_holds_many_times_the_pauses_of_gc_small_objects(
    built: tuple[str, str, Path], tmp_path: Path
) -> None:
    """The pause benchmark runs short GC cycles: one half-second run alone holds the pauses a
    pooled p99 needs, and several times what gc_small_objects holds in the same time."""
    _, _, out = built
    pauses = {}
    for name in ("gc_short_cycles", "gc_small_objects"):
        result = tmp_path / f"{name}.json"
        proc = run_fixture(out / CATALOGUE[name].binary_name, result, GXM_DURATION="0.5")
        assert (proc.returncode, proc.stderr) == (0, ""), name
        report = read_fixture_result(result)
        pauses[name] = report.metrics["gc_pauses"]
        assert report.pause_histogram is not None, name
        assert sum(report.pause_histogram["counts"]) == pauses[name], name
    assert pauses["gc_short_cycles"] >= pausepool.MIN_PAUSES_FOR_P99, pauses
    assert pauses["gc_short_cycles"] >= 4 * pauses["gc_small_objects"], pauses


def pass_expected(minor: str, goexperiment: str) -> list[Fixture]:
    """The fixtures that apply to this cell and are expected to pass in it."""
    cell = Cell(minor, goexperiment)
    return [
        fixture
        for fixture in CATALOGUE.values()
        if fixture_applies(fixture, cell) is None
        and fixture.expected_outcomes(goexperiment) == (Outcome.PASS,)
    ]


def test_fixtures_expected_to_pass_pass_and_report_metrics(
    built: tuple[str, str, Path], tmp_path: Path
) -> None:
    minor, goexperiment, out = built
    fixtures = pass_expected(minor, goexperiment)
    assert {"cmem_finalizer", "gc_small_objects"} <= {f.name for f in fixtures}
    for fixture in fixtures:
        result = tmp_path / f"{fixture.name}.json"
        proc = run_fixture(out / fixture.binary_name, result)
        assert (proc.returncode, proc.stderr) == (0, ""), fixture.name
        report = read_fixture_result(result)
        assert report.status == "ok", (fixture.name, report.error)
        assert (report.runtime_version or "").startswith(f"go{minor}.")
        assert effective_experiments(report.runtime_version or "") == tuple(
            e for e in goexperiment.split(",") if e
        )
        metrics = report.metrics
        assert 0 <= metrics["gc_cpu_fraction"] <= 1, fixture.name
        assert metrics["peak_rss_bytes"] > 0 and metrics["wall_ns"] > 0, fixture.name
        if fixture.kind == "bench":
            assert metrics["gc_cycles"] > 0 and metrics["ops"] > 0, fixture.name
            assert 0 < metrics["gc_pause_p50_ns"] <= metrics["gc_pause_p99_ns"], fixture.name
            assert metrics["gc_pause_p99_ns"] <= metrics["gc_pause_max_ns"], fixture.name
        if fixture.name == "cmem_finalizer":
            checks = report.checks
            assert 0 < checks["handles_finalized"] <= checks["handles_created"]


def test_bad_knob_is_a_usage_error_without_result(
    built: tuple[str, str, Path], tmp_path: Path
) -> None:
    _, _, out = built
    result = tmp_path / "result.json"
    proc = run_fixture(out / "gc_small_objects", result, GXM_DURATION="soon")
    assert proc.returncode == 2 and proc.stderr.startswith("gxm: usage: GXM_DURATION")
    assert read_fixture_result(result).status == "missing"


@pytest.mark.parametrize("minor", GO_MINORS)
def test_go_vet_and_probe_tests_pass(minor: str, scratch: Path) -> None:
    go = str(toolchain(minor).go)
    env = go_env(minor, "")
    run_command([go, "vet", "./..."], timeout_s=600, env=env, cwd=FIXTURES_DIR)
    run_command([go, "test", "./internal/..."], timeout_s=600, env=env, cwd=FIXTURES_DIR)


@pytest.mark.parametrize("minor", GO_MINORS)
def test_arena_uaf_partial_survives_however_long_it_runs(minor: str, tmp_path: Path) -> None:
    """Its expectation (`pass`) holds on a busy or an idle machine. It used to loop until a
    deadline, fill its arena chunk after a load-dependent number of reads and crash then (seeds 2
    and 8 did within 10 s); now its reads stop well inside one chunk, so a long duration costs
    nothing."""
    binary = tmp_path / "arena_uaf_partial"
    run_command(
        [str(toolchain(minor).go), "build", "-o", str(binary), "./cmd/arena_uaf_partial"],
        timeout_s=900,
        env=go_env(minor, "arenas"),
        cwd=FIXTURES_DIR,
    )
    for seed in ("2", "8"):
        result = tmp_path / f"uaf-{seed}.json"
        proc = run_fixture(binary, result, GXM_DURATION="10", GXM_SEED=seed)
        assert proc.returncode == 0, (seed, proc.stderr[-2000:])
        assert read_fixture_result(result).checks["read_after_free"].startswith("survived")

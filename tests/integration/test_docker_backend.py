"""The docker backend on a real engine with real Go 1.22 builds and fixture runs.

No engine is a failure, not a skip: `.ci/run` starts one. The first use on a machine bootstraps the
base image (debootstrap, about a minute) and builds the toolchain image.
"""

from __future__ import annotations

import _thread
import contextlib
import io
import os
import shutil
import socket
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from docker.errors import ImageNotFound

from harness import goenv, toolchains
from harness.backends.docker import DockerBackend, images, unavailable_reason
from harness.backends.docker.engine import connect
from harness.backends.docker.leftovers import clean, leftovers
from harness.backends.local import LocalBackend
from harness.build import BuildResult, build_cell
from harness.classify import classify, read_fixture_result
from harness.context import Clock, Paths, Reporter, RunContext
from harness.fixtures import load_fixtures
from harness.model import (
    Cell,
    CellPlan,
    DockerSettings,
    ExecResult,
    ExecSpec,
    Fixture,
    Outcome,
    Settings,
    Toolchain,
)
from harness.run import execute_fixture_run, fixture_spec

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
EXTERNAL_SDK = REPO / "tests" / "data" / "external_sdk"
OURS = load_fixtures(REPO / "go_fixtures" / "fixtures.yaml")
EXTERNAL = {
    name: Fixture(name, "stress", "test program", EXTERNAL_SDK, f"./cmd/{name}", external=True)
    for name in ("hang", "hog", "panicker")
}
FIXTURES = {**OURS, **EXTERNAL}
SETTINGS = Settings(duration_s=0.5, timeout_s=60.0, grace_s=10.0, memory_limit_bytes=512 << 20)
# The arenas cell can build every fixture (some need the arena package).
PLAN = CellPlan(Cell("1.22", "arenas"), SETTINGS, tuple(FIXTURES))
PASSING = ("cmem_finalizer", "gc_small_objects")


@pytest.fixture(scope="module")
def engine() -> Iterator[Any]:
    """The engine's client; afterwards nothing labelled dev.gxm may be left on it (but what
    another gxm process, still running, has on a shared engine is its own business)."""
    reason = unavailable_reason()
    if reason is not None:
        pytest.fail(f"the docker backend tests need a Docker engine: {reason}")
    client = connect()
    yield client
    left = [
        entry
        for entry in client.api.containers(all=True, filters={"label": images.LABEL})
        if not another_live_process(entry.get("Labels") or {})
    ]
    client.close()
    assert left == [], f"containers left behind: {[c['Names'] for c in left]}"


def another_live_process(labels: dict[str, str]) -> bool:
    pid = labels.get(images.LABEL_SESSION, "").split("-", 1)[0]
    return pid.isdigit() and int(pid) != os.getpid() and Path(f"/proc/{pid}").exists()


@pytest.fixture(scope="module")
def go122() -> Toolchain:
    return toolchains.provision("1.22", goenv.cache_dir())


def make_context(root: Path, backend_name: str) -> RunContext:
    run_dir, work_dir = root / "run-dk-test", root / "work"
    for directory in (run_dir / "logs", work_dir):
        directory.mkdir(parents=True, exist_ok=True)
    paths = Paths(REPO, root, goenv.cache_dir(), run_dir, work_dir)
    return RunContext(paths, Reporter(), Clock(), 7, backend_name)


@pytest.fixture(scope="module")
def docker_backend(engine: Any, go122: Toolchain) -> Iterator[DockerBackend]:
    with DockerBackend(reporter=Reporter()) as backend:
        backend.prepare(go122)
        yield backend


@pytest.fixture(scope="module")
def docker_ctx(tmp_path_factory: pytest.TempPathFactory) -> RunContext:
    return make_context(tmp_path_factory.mktemp("docker"), "docker")


@pytest.fixture(scope="module")
def docker_build(
    docker_backend: DockerBackend, docker_ctx: RunContext, go122: Toolchain
) -> BuildResult:
    """Every fixture (go_fixtures and the external test programs) built in containers."""
    built = build_cell(docker_ctx, docker_backend, go122, PLAN, list(FIXTURES.values()))
    log = built.log.read_text() if built.log and built.log.exists() else ""
    assert built.status == "ok", f"{built.detail}\n{log}"
    return built


def run_on(
    backend: Any, ctx: RunContext, go: Toolchain, built: BuildResult, name: str, **settings: Any
) -> tuple[ExecSpec, ExecResult]:
    plan = replace(PLAN, settings=replace(SETTINGS, **settings))
    spec = fixture_spec(ctx, plan, FIXTURES[name], built.binaries[name], 1)
    return spec, backend.execute(spec, go)


def gxm_containers(engine: Any, label: str) -> list[Any]:
    return engine.containers.list(all=True, filters={"label": f"dev.gxm.label={label}"})


@pytest.mark.parametrize("name", PASSING)
def test_go_fixtures_pass_in_containers_and_write_their_results(
    name: str,
    docker_backend: DockerBackend,
    docker_ctx: RunContext,
    go122: Toolchain,
    docker_build: BuildResult,
) -> None:
    record = execute_fixture_run(
        docker_ctx, docker_backend, go122, PLAN, OURS[name], docker_build.binaries[name], 1
    ).to_json()
    assert record["outcome"] == Outcome.PASS.value, record
    assert record["result_status"] == "ok" and record["runtime_version"].startswith("go1.22")
    assert record["metrics"], "the fixture's result JSON has metrics"


def test_a_run_container_has_no_network_a_read_only_root_and_limits(
    engine: Any, docker_backend: DockerBackend, docker_ctx: RunContext, go122: Toolchain,
    docker_build: BuildResult,
) -> None:  # fmt: skip
    limits = {"timeout_s": 6.0, "grace_s": 5.0, "memory_limit_bytes": 96 << 20, "cpus": 0.5}
    plan = replace(PLAN, settings=replace(SETTINGS, pids_limit=64, **limits))
    spec = fixture_spec(docker_ctx, plan, EXTERNAL["hang"], docker_build.binaries["hang"], 1)
    worker = threading.Thread(target=docker_backend.execute, args=(spec, go122))
    worker.start()
    try:
        found: list[Any] = []
        deadline = time.monotonic() + 5
        while not found and time.monotonic() < deadline:
            found = gxm_containers(engine, spec.label)
            time.sleep(0.05)
        assert found, "no container carries the run's label while it runs"
        attrs = found[0].attrs
    finally:
        worker.join(60)
    host, config = attrs["HostConfig"], attrs["Config"]
    assert host["NetworkMode"] == "none" and host["ReadonlyRootfs"] is True
    assert config["User"] and config["User"].split(":")[0] not in ("0", "root")
    assert host["Memory"] == host["MemorySwap"] == 96 << 20
    assert host["NanoCpus"] == 500_000_000 and host["PidsLimit"] == 64
    assert "/tmp" in host["Tmpfs"]
    labels = config["Labels"]
    assert labels["dev.gxm"] == "1" and labels["dev.gxm.run"] == "run-dk-test"
    assert labels["dev.gxm.label"] == spec.label
    binary_dir = str(docker_build.binaries["hang"].parent)
    mounts = {m["Destination"]: m for m in attrs["Mounts"]}
    assert mounts[binary_dir]["Source"] == binary_dir and mounts[binary_dir]["RW"] is False
    assert gxm_containers(engine, spec.label) == []  # removed once it ended


def test_a_hung_run_times_out_with_its_goroutine_dump(
    docker_backend: DockerBackend, docker_ctx: RunContext, go122: Toolchain,
    docker_build: BuildResult,
) -> None:  # fmt: skip
    spec, result = run_on(
        docker_backend, docker_ctx, go122, docker_build, "hang", timeout_s=2.0, grace_s=10.0
    )
    stderr = spec.stderr_path.read_text()
    assert result.timed_out and not result.oom_killed and result.infra_error is None
    assert result.exit_code == 2  # Go exits after the SIGQUIT dump; no SIGKILL was needed
    assert "SIGQUIT: quit" in stderr and "goroutine " in stderr
    assert "hang: waiting forever" in stderr
    assert classify(result, stderr).outcome == Outcome.TIMEOUT


def test_unbounded_allocation_is_an_oom_kill(
    docker_backend: DockerBackend, docker_ctx: RunContext, go122: Toolchain,
    docker_build: BuildResult,
) -> None:  # fmt: skip
    spec, result = run_on(
        docker_backend, docker_ctx, go122, docker_build, "hog", memory_limit_bytes=128 << 20
    )
    assert result.oom_killed and not result.timed_out, result
    assert result.signal == 9 and result.exit_code is None
    assert classify(result, spec.stderr_path.read_text()).outcome == Outcome.OOM


def test_a_panic_exits_2_with_its_message(
    docker_backend: DockerBackend, docker_ctx: RunContext, go122: Toolchain,
    docker_build: BuildResult,
) -> None:  # fmt: skip
    spec, result = run_on(docker_backend, docker_ctx, go122, docker_build, "panicker")
    assert result.exit_code == 2 and result.signal is None and not result.timed_out
    assert "panic: " in spec.stderr_path.read_text()
    assert "panicker: looking up handle" not in spec.stdout_path.read_text()  # stderr only


def test_a_short_run_reports_its_programs_peak_memory(
    docker_backend: DockerBackend, docker_ctx: RunContext, go122: Toolchain,
    docker_build: BuildResult,
) -> None:  # fmt: skip
    """The peak comes from gxmexec (the program's wait4 rusage), not from engine stats calls
    (slow, so sampled only in long runs): a run over before the first sample still has one."""
    _, result = run_on(docker_backend, docker_ctx, go122, docker_build, "panicker")
    assert result.exit_code == 2, result
    assert result.peak_rss_bytes is not None and 1 << 20 < result.peak_rss_bytes < 1 << 30


@pytest.fixture(scope="module")
def local_side(
    go122: Toolchain, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[LocalBackend, RunContext, BuildResult]]:
    ctx = make_context(tmp_path_factory.mktemp("local"), "local")
    with LocalBackend() as backend:
        built = build_cell(ctx, backend, go122, PLAN, list(FIXTURES.values()))
        assert built.status == "ok", built.detail
        yield backend, ctx, built


@pytest.mark.parametrize("name", ["panicker", *sorted(OURS)])
def test_both_backends_give_the_same_outcome_and_signature(
    name: str,
    docker_backend: DockerBackend,
    docker_ctx: RunContext,
    go122: Toolchain,
    docker_build: BuildResult,
    local_side: tuple[LocalBackend, RunContext, BuildResult],
) -> None:
    """Every fixture: the same outcome, crash signature, signal and result-file status. A fixture
    whose outcome is nondeterministic by design (several expected) must stay within them."""
    seen = []
    for backend, ctx, built in [(docker_backend, docker_ctx, docker_build), local_side]:
        spec, result = run_on(backend, ctx, go122, built, name)
        classified = classify(result, spec.stderr_path.read_text())
        report = read_fixture_result(Path(dict(spec.env)["GXM_RESULT"]))
        seen.append((classified.outcome, classified.signature, result.signal, report.status))
    expected = FIXTURES[name].expected_outcomes(PLAN.cell.goexperiment)
    if name in EXTERNAL or len(expected) == 1:
        assert seen[0] == seen[1]
    else:
        assert {seen[0][0], seen[1][0]} <= set(expected), seen


def test_a_program_that_cannot_start_is_an_infra_error(
    engine: Any, docker_backend: DockerBackend, go122: Toolchain, tmp_path: Path
) -> None:
    tmp_path.chmod(0o755)
    spec = ExecSpec(
        (str(tmp_path / "missing"),), (("PATH", "/usr/bin:/bin"),), tmp_path,
        tmp_path / "out", tmp_path / "err", 30.0, label="run-dk-test/x/missing#1",
        mounts=((tmp_path, True),),
    )  # fmt: skip
    result = docker_backend.execute(spec, go122)
    assert result.infra_error and "missing" in result.infra_error
    assert gxm_containers(engine, spec.label) == []


def test_ctrl_c_during_a_run_removes_its_container(
    engine: Any, docker_backend: DockerBackend, docker_ctx: RunContext, go122: Toolchain,
    docker_build: BuildResult,
) -> None:  # fmt: skip
    plan = replace(PLAN, settings=replace(SETTINGS, timeout_s=60.0))
    spec = fixture_spec(docker_ctx, plan, EXTERNAL["hang"], docker_build.binaries["hang"], 2)

    def interrupt_once_running() -> None:
        deadline = time.monotonic() + 20
        while not gxm_containers(engine, spec.label) and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)
        _thread.interrupt_main()

    threading.Thread(target=interrupt_once_running, daemon=True).start()
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        docker_backend.execute(spec, go122)
    assert time.monotonic() - started < 30
    assert gxm_containers(engine, spec.label) == []
    assert docker_backend.live_containers() == []


def test_the_toolchain_image_is_reused_on_a_second_prepare(
    engine: Any, docker_backend: DockerBackend, go122: Toolchain
) -> None:
    first = docker_backend.image_for(go122)
    shown = io.StringIO()
    with DockerBackend(reporter=Reporter(stream=shown)) as again:
        again.prepare(go122)
        second = again.image_for(go122)
    assert second == first
    assert "building" not in shown.getvalue() and "bootstrapping" not in shown.getvalue()
    labels = engine.images.get(second).labels
    assert labels[images.LABEL_TOOLCHAIN_SHA] == go122.sha256


REGISTRY_CONFIG = """version: 0.1
storage:
  filesystem:
    rootdirectory: {root}
http:
  addr: 127.0.0.1:{port}
"""


@pytest.fixture()
def registry(tmp_path: Path) -> Iterator[str]:
    """Debian's docker-registry on a free loopback port (the engine trusts 127.0.0.0/8)."""
    if shutil.which("docker-registry") is None:
        pytest.fail("docker-registry is missing: `apt-get install docker-registry` (.ci/run does)")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = tmp_path / "registry.yml"
    config.write_text(REGISTRY_CONFIG.format(root=tmp_path / "storage", port=port))
    with open(tmp_path / "registry.log", "wb") as log:
        server = subprocess.Popen(["docker-registry", "serve", str(config)], stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=2).close()
                break
            except OSError:
                assert time.monotonic() < deadline, (tmp_path / "registry.log").read_text()
                time.sleep(0.2)
        yield f"127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(30)


def test_a_configured_base_image_is_pulled_from_a_registry_and_runs_a_cell(
    engine: Any, registry: str, docker_backend: DockerBackend, go122: Toolchain,
    tmp_path: Path,
) -> None:  # fmt: skip
    repository = f"{registry}/gxm-test-base"
    reference = f"{repository}:{go122.version}"
    engine.images.get(images.bootstrap_tag(DockerSettings())).tag(repository, go122.version)
    try:
        for event in engine.api.push(repository, tag=go122.version, stream=True, decode=True):
            assert "error" not in event, event
    finally:
        engine.images.remove(reference)  # only the registry has it now
    shown = io.StringIO()
    settings = DockerSettings(base_image=f"{repository}:{{go}}")
    ctx = make_context(tmp_path, "docker")
    fixture = OURS["cmem_finalizer"]
    try:
        with DockerBackend(reporter=Reporter(stream=shown), settings=settings) as backend:
            built = build_cell(ctx, backend, go122, PLAN, [fixture])
            assert built.status == "ok", built.detail
            binary = built.binaries[fixture.name]
            record = execute_fixture_run(ctx, backend, go122, PLAN, fixture, binary, 1).to_json()
    finally:
        with contextlib.suppress(ImageNotFound):
            engine.images.remove(reference)
    assert f"base image: pulling {reference}" in shown.getvalue()
    assert record["outcome"] == Outcome.PASS.value, record


def test_clean_removes_leftover_containers_and_dry_run_only_lists_them(
    engine: Any, docker_backend: DockerBackend, go122: Toolchain
) -> None:
    label = f"run-dk-test/clean/{time.monotonic_ns()}"
    labels = {images.LABEL: "1", "dev.gxm.run": "run-dk-test", "dev.gxm.label": label}
    image = docker_backend.image_for(go122)
    stale = engine.containers.create(image, ["true"], labels=labels, network_mode="none")
    try:
        listed = [item.id for item in leftovers(engine) if item.kind == "container"]
        assert stale.id[:12] in listed
        would = clean(engine, dry_run=True, images=False)
        assert stale.id[:12] in [item.id for item in would]
        assert gxm_containers(engine, label), "a dry run removes nothing"
        clean(engine, dry_run=False, images=False)
        assert gxm_containers(engine, label) == []
    finally:
        with contextlib.suppress(Exception):
            stale.remove(force=True)


def test_an_interrupt_while_the_engine_creates_the_container_leaves_none(
    engine: Any, docker_backend: DockerBackend, docker_ctx: RunContext, go122: Toolchain,
    docker_build: BuildResult, monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """A Ctrl-C (or SIGTERM) that came while the engine was creating a container, before its id
    was back, left the container behind in the Created state."""
    spec = fixture_spec(docker_ctx, PLAN, EXTERNAL["hang"], docker_build.binaries["hang"], 3)
    create = docker_backend.client.api.create_container

    def created_then_interrupted(*args: Any, **kwargs: Any) -> Any:
        create(*args, **kwargs)  # the engine made it, and then the interrupt came
        raise KeyboardInterrupt

    monkeypatch.setattr(docker_backend.client.api, "create_container", created_then_interrupted)
    with pytest.raises(KeyboardInterrupt):
        docker_backend.execute(spec, go122)
    assert gxm_containers(engine, spec.label) == []
    assert docker_backend.live_containers() == []

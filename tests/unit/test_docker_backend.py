"""The docker backend's pure parts: container configuration from an ExecSpec, names and labels,
exit status → signal, image tags and labels, and the reasons given when no engine answers.
No engine is needed (the last tests point DOCKER_HOST at a socket that does not exist)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from harness.backends import docker as backend
from harness.backends.docker import containers as cconf
from harness.backends.docker import engine, images
from harness.backends.docker.leftovers import _owner_alive
from harness.model import DockerSettings, ExecSpec, Toolchain

GOROOT = Path("/cache/toolchains/go1.22.10/go")
TOOLCHAIN = Toolchain("1.22.10", GOROOT, "ab" * 32)
WORK = Path("/cache/work/run-1")


def build_spec() -> ExecSpec:
    """Shaped like harness.build.build_spec's: go of the host GOROOT, GOCACHE, HOME, GOPATH."""
    env = {
        "PATH": f"{GOROOT}/bin:/usr/bin:/bin",
        "GOROOT": str(GOROOT),
        "GOCACHE": "/cache/gocache/go1.22.10",
        "HOME": "/cache/home",
        "GOPATH": "/cache/gopath",
        "CC": "/usr/lib/ccache/gcc",
    }
    return ExecSpec(
        argv=(f"{GOROOT}/bin/go", "build", "-o", f"{WORK}/bin/", "./cmd/a"),
        env=tuple(sorted(env.items())),
        cwd=Path("/repo/go_fixtures"),
        stdout_path=WORK / "build.stdout.log",
        stderr_path=WORK / "build.log",
        timeout_s=900,
        memory_limit_bytes=4 << 30,
        cpus=2.0,
        label="run-1/go1.22-default/build",
        mounts=(
            (Path("/repo/go_fixtures"), False),
            (WORK / "bin", True),
            (Path("/cache/gocache/go1.22.10"), True),
            (GOROOT, False),
        ),
    )


def run_spec() -> ExecSpec:
    """Shaped like harness.run.fixture_spec's: HOME and TMPDIR in a writable scratch mount."""
    env = {"PATH": "/usr/bin:/bin", "HOME": f"{WORK}/scratch", "TMPDIR": f"{WORK}/scratch"}
    return ExecSpec(
        argv=(f"{WORK}/bin/cgo_stress",),
        env=tuple(sorted(env.items())),
        cwd=WORK / "scratch",
        stdout_path=WORK / "x.stdout",
        stderr_path=WORK / "x.stderr",
        timeout_s=30,
        memory_limit_bytes=128 << 20,
        cpus=1.5,
        pids_limit=64,
        label="run-1/go1.22-arenas/cgo_stress#3",
        mounts=((WORK / "bin", False), (WORK / "results", True), (WORK / "scratch", True)),
    )


def config(spec: ExecSpec, volume: str | None = "gxm-gocache-go1.22.10") -> dict:
    return cconf.container_config(
        spec,
        TOOLCHAIN,
        image="sha256:feed",
        user=(65534, 65534),
        gocache_volume=volume,
        name="gxm-x",
        session="s1",
    )


def test_a_run_container_is_isolated_and_limited() -> None:
    cfg = config(run_spec())
    assert cfg["network_mode"] == "none" and cfg["read_only"] is True
    assert cfg["user"] == "65534:65534" and cfg["init"] is True
    assert cfg["mem_limit"] == cfg["memswap_limit"] == 128 << 20  # no swap
    assert cfg["nano_cpus"] == 1_500_000_000 and cfg["pids_limit"] == 64
    # /tmp and TMPDIR (= HOME = the scratch dir) are size-limited tmpfs inside the container:
    # a fixture filling its temp dir used to write onto the host disk through a bind mount
    limited = f"{cconf.TMPFS_OPTIONS},size={128 << 20}"
    owned = f"{limited},uid=65534,gid=65534"  # docker resets a tmpfs that is the working dir
    assert cfg["tmpfs"] == {"/tmp": limited, f"{WORK}/scratch": owned}
    assert "exec" in cfg["tmpfs"]["/tmp"].split(",")  # `go test` runs binaries from TMPDIR
    # untrusted code: no capabilities, no privileges through setuid binaries
    assert cfg["cap_drop"] == ["ALL"] and cfg["security_opt"] == ["no-new-privileges"]
    assert cfg["log_config"]["config"]["max-file"] == "2"  # the engine's copy is bounded too


def test_run_labels_name_the_run_and_the_cell() -> None:
    labels = config(run_spec())["labels"]
    assert labels["dev.gxm"] == "1" and labels["dev.gxm.run"] == "run-1"
    assert labels["dev.gxm.label"] == "run-1/go1.22-arenas/cgo_stress#3"
    assert labels[backend.LABEL_SESSION] == "s1"


def test_mounts_keep_host_paths_and_modes() -> None:
    mounts = {m["Target"]: m for m in config(run_spec())["mounts"]}
    assert set(mounts) == {f"{WORK}/bin", f"{WORK}/results"}  # scratch: a tmpfs
    assert all(m["Source"] == target and m["Type"] == "bind" for target, m in mounts.items())
    assert mounts[f"{WORK}/bin"]["ReadOnly"] is True
    assert mounts[f"{WORK}/results"]["ReadOnly"] is False


def test_build_uses_the_image_goroot_and_the_gocache_volume() -> None:
    cfg = config(build_spec())
    image_go = images.IMAGE_GOROOT
    assert cfg["command"][0] == f"{image_go}/bin/go"
    assert cfg["environment"]["GOROOT"] == image_go
    assert cfg["environment"]["PATH"].startswith(f"{image_go}/bin:")
    assert "CC" not in cfg["environment"]  # a host compiler path means nothing in the image
    mounts = {m["Target"]: m for m in cfg["mounts"]}
    assert str(GOROOT) not in mounts  # the image has the toolchain
    gocache = mounts["/cache/gocache/go1.22.10"]
    assert gocache["Type"] == "volume" and gocache["Source"] == "gxm-gocache-go1.22.10"
    assert mounts["/repo/go_fixtures"]["ReadOnly"] is True
    assert mounts[f"{WORK}/bin"]["ReadOnly"] is False
    assert cfg["network_mode"] == "none" and cfg["mem_limit"] == 4 << 30


def test_home_and_gopath_outside_writable_mounts_get_a_tmpfs() -> None:
    tmpfs = config(build_spec())["tmpfs"]
    assert set(tmpfs) == {"/tmp", "/cache/home", "/cache/gopath"}


def test_mounts_come_parents_first() -> None:
    spec = run_spec()
    nested = ExecSpec(
        spec.argv,
        spec.env,
        spec.cwd,
        spec.stdout_path,
        spec.stderr_path,
        spec.timeout_s,
        mounts=((WORK / "a" / "b", True), (WORK / "a", False), (WORK / "a", False)),
    )
    targets = [m["Target"] for m in config(nested)["mounts"]]
    assert targets == [f"{WORK}/a", f"{WORK}/a/b"]


def test_unset_limits_are_left_to_the_engine() -> None:
    spec = run_spec()
    bare = ExecSpec(spec.argv, spec.env, spec.cwd, spec.stdout_path, spec.stderr_path, 5.0)
    cfg = config(bare)
    assert not {"mem_limit", "memswap_limit", "nano_cpus", "pids_limit"} & set(cfg)


def test_goroot_is_mapped_only_as_a_whole_path_element() -> None:
    image_go = images.IMAGE_GOROOT
    assert cconf.map_goroot(f"{GOROOT}:/bin", GOROOT) == f"{image_go}:/bin"
    assert cconf.map_goroot(f"{GOROOT}/bin/go", GOROOT) == f"{image_go}/bin/go"
    assert cconf.map_goroot(f"{GOROOT}path/x", GOROOT) == f"{GOROOT}path/x"


@pytest.mark.parametrize(
    "label",
    ["run-20261127-1040/go1.22-arenas+cgocheck2/mysdk/worker#3", "", "///", "a b:c"],
)
def test_container_names_are_valid_docker_names(label: str) -> None:
    name = cconf.container_name(label, "0a1b")
    assert re.fullmatch(r"[a-zA-Z0-9][a-zA-Z0-9_.-]+", name), name
    assert name.startswith("gxm-") and name.endswith("-0a1b") and len(name) < 100


def test_run_id_is_the_first_part_of_the_label() -> None:
    assert replace(run_spec(), label="run-1/go1.22-default/build").run_id == "run-1"
    assert replace(run_spec(), label="").run_id == "adhoc"


@pytest.mark.parametrize(
    ("exit_code", "expected"),
    [
        (0, (0, None)),
        (2, (2, None)),  # a Go crash (also after SIGQUIT's dump) is an exit status
        (3, (3, None)),
        (128, (128, None)),
        (137, (None, signal.SIGKILL)),  # OOM kill or our SIGKILL
        (139, (None, signal.SIGSEGV)),
        (134, (None, signal.SIGABRT)),
        (255, (255, None)),
    ],
)
def test_exit_status_translates_signal_deaths(exit_code: int, expected: tuple) -> None:
    assert cconf.exit_status(exit_code) == expected


def test_docker_times_give_the_process_duration() -> None:
    state = {
        "StartedAt": "2026-11-27T10:40:00.250000000Z",
        "FinishedAt": "2026-11-27T10:40:02.750000000Z",
    }
    assert cconf.docker_seconds(state) == pytest.approx(2.5)
    never = {"StartedAt": "0001-01-01T00:00:00Z", "FinishedAt": "0001-01-01T00:00:00Z"}
    assert cconf.docker_seconds(never) is None


def test_toolchain_images_are_named_and_labelled_by_their_inputs() -> None:
    assert images.toolchain_tag(TOOLCHAIN) == "gxm-go:1.22.10-abababababab"
    built = images.toolchain_labels(TOOLCHAIN, "sha256:base", "FROM x")
    assert built[images.LABEL_TOOLCHAIN_SHA] == TOOLCHAIN.sha256
    assert images.is_current(built, images.toolchain_labels(TOOLCHAIN, "sha256:base", "FROM x"))
    other = Toolchain("1.22.10", GOROOT, "cd" * 32)
    for changed in (
        images.toolchain_labels(TOOLCHAIN, "sha256:newbase", "FROM x"),
        images.toolchain_labels(other, "sha256:base", "FROM x"),
        images.toolchain_labels(TOOLCHAIN, "sha256:base", "FROM x\nRUN y"),
    ):
        assert not images.is_current(built, changed)
    assert not images.is_current(None, built)


def test_the_dockerfile_copies_the_goroot_and_checks_gcc() -> None:
    text = images.dockerfile("sha256:base")
    assert text.startswith("FROM sha256:base\n")
    assert f"COPY go {images.IMAGE_GOROOT}" in text
    assert "command -v gcc" in text and "has no gcc" in text


def test_run_containers_get_the_core_limit_the_spec_asks_for() -> None:
    assert "ulimits" not in config(run_spec())  # builds and tools: the engine's own limit
    for core_dumps, limit in ((True, -1), (False, 0)):
        (ulimit,) = config(replace(run_spec(), core_dumps=core_dumps))["ulimits"]
        assert (ulimit["Name"], ulimit["Soft"], ulimit["Hard"]) == ("core", limit, limit)


def test_a_pinned_run_gets_its_cpuset_and_others_none() -> None:
    assert "cpuset_cpus" not in config(run_spec())
    assert config(replace(run_spec(), cpuset=(2, 3)))["cpuset_cpus"] == "2,3"


def test_the_bootstrapped_base_holds_the_c_crash_tools_and_is_labelled_by_its_recipe() -> None:
    assert {"gcc", "libc6-dev", "elfutils"} <= set(images.BASE_PACKAGES)
    recipe = images.base_recipe(DockerSettings())
    assert recipe != images.base_recipe(DockerSettings(bootstrap_suite="trixie"))
    assert len(recipe) == 16


def test_the_base_image_is_configured_or_bootstrapped() -> None:
    assert images.base_reference(DockerSettings(), "1.22.10") == "gxm-base:bookworm"
    templated = DockerSettings(base_image="golang:{go}-bookworm")
    assert images.base_reference(templated, "1.22.10") == "golang:1.22.10-bookworm"
    assert images.gocache_volume_name(TOOLCHAIN) == "gxm-gocache-go1.22.10"


@pytest.mark.parametrize(
    ("error", "says"),
    [
        ("Error while fetching server API version: ('Connection aborted.', "
         "FileNotFoundError(2, 'No such file or directory'))", "no Docker engine socket"),
        ("('Connection aborted.', PermissionError(13, 'Permission denied'))", "docker group"),
        ("Connection refused", "connection refused"),
    ],
)  # fmt: skip
def test_engine_problems_say_what_to_do(error: str, says: str) -> None:
    text = engine.engine_problem(RuntimeError(error))
    assert says in text


def test_no_engine_is_a_reason_that_says_how_to_start_one(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/nothing.sock")
    reason = backend.unavailable_reason()
    assert reason is not None and "dockerd" in reason and "nothing.sock" in reason


def test_containers_of_a_live_gxm_process_are_not_leftovers() -> None:
    assert _owner_alive({images.LABEL_SESSION: f"{os.getpid()}-ab12"})
    ended = subprocess.Popen(["true"])
    ended.wait()  # reaped: its pid names no process now
    assert not _owner_alive({images.LABEL_SESSION: f"{ended.pid}-ab12"})
    assert not _owner_alive({})


def test_peak_memory_leaves_out_the_page_cache() -> None:
    """The cgroup's max_usage counts page cache: a program that only read files looked big."""
    from harness.backends.docker import memory_in_use

    v1 = {"usage": 300 << 20, "max_usage": 900 << 20, "stats": {"cache": 250 << 20}}
    assert memory_in_use(v1) == 50 << 20
    v2 = {"usage": 120 << 20, "stats": {"file": 100 << 20, "anon": 20 << 20}}
    assert memory_in_use(v2) == 20 << 20
    assert memory_in_use({}) is None


def test_an_engine_that_went_away_is_said_in_words() -> None:
    """dockerd killed mid-run: the runs' infra-error now says the engine went away."""
    import requests

    from harness.backends.docker import _engine_failure

    gone = requests.exceptions.ConnectionError("Connection aborted: FileNotFoundError")
    assert _engine_failure(gone).startswith("the docker engine went away")


def test_gxmexec_status_gives_the_programs_end_and_peak_memory(tmp_path: Path) -> None:
    """The peak RSS gxmexec read from wait4 is the run's peak: no engine stats call needed."""
    from harness.backends.docker import execwrap

    exchange = tmp_path / "x"
    exchange.mkdir()
    (exchange / "stderr").write_bytes(b"panic: boom\n")
    (exchange / execwrap.STATUS_FILE).write_text(
        '{"exit_code": 2, "dropped": 0, "max_rss_bytes": 7340032}'
    )
    run = ExecSpec(("x",), (), tmp_path, tmp_path / "out", tmp_path / "err", 1.0)
    ending = execwrap.collect(exchange, run)
    assert ending == execwrap.Ending(2, None, 0, None, 7340032)
    assert (tmp_path / "err").read_bytes() == b"panic: boom\n"
    (exchange / execwrap.STATUS_FILE).write_text('{"signal": 9, "dropped": 0}')  # older gxmexec
    assert execwrap.collect(exchange, run) == execwrap.Ending(None, 9, 0, None, None)

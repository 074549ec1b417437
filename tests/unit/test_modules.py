"""modules.py: offline builds from gxm's module cache, and what a failed download says."""

from __future__ import annotations

from pathlib import Path

from harness.errors import InfraError, UsageError
from harness.model import Toolchain
from harness.modules import build_env, build_mounts, download_env, download_error

# `go mod download` of Go 1.26.6 against an empty file:// proxy, and against an unreachable one.
NOT_FOUND = (
    "go: example.com/nothere@v0.1.0: reading file:///tmp/proxy/example.com/nothere/@v/v0.1.0.mod:"
    " no such file or directory\n"
)
UNREACHABLE = (
    'go: example.com/sdkdep@v1.0.0: Get "https://proxy.example/example.com/sdkdep/@v/v1.0.0.mod":'
    " dial tcp: lookup proxy.example: no such host\n"
)


def test_missing_module_is_an_input_error_naming_module_and_proxy() -> None:
    error = download_error(Path("/src/mod"), "file:///tmp/proxy", NOT_FOUND)
    assert isinstance(error, UsageError) and not isinstance(error, InfraError)
    assert str(error).startswith(
        "/src/mod/go.mod: cannot download module example.com/nothere@v0.1.0 "
        "(GOPROXY=file:///tmp/proxy): reading file:///tmp/proxy/"
    )
    assert "\n" not in str(error)


def test_unreachable_proxy_is_an_infrastructure_error() -> None:
    error = download_error(Path("/src/mod"), "https://proxy.example", UNREACHABLE)
    assert isinstance(error, InfraError)
    assert "example.com/sdkdep@v1.0.0" in str(error) and "GOPROXY=https://proxy.example" in str(
        error
    )


def test_builds_are_offline_from_the_module_cache_or_vendor(tmp_path: Path) -> None:
    module = tmp_path / "mod"
    module.mkdir()
    (module / "go.mod").write_text("module m\n\ngo 1.21\n\nrequire example.com/dep v1.0.0\n")
    cache = tmp_path / "cache"
    env = build_env(cache, module)
    assert env["GOPROXY"] == "off" and env["GOFLAGS"] == "-buildvcs=false -mod=mod"
    assert env["GOMODCACHE"] == str(cache / "modcache")
    assert build_mounts(cache, module) == []  # nothing downloaded yet
    (cache / "modcache").mkdir(parents=True)
    assert build_mounts(cache, module) == [cache / "modcache"]
    (module / "vendor").mkdir()
    (module / "vendor" / "modules.txt").write_text("# example.com/dep v1.0.0\n")
    assert build_env(cache, module)["GOFLAGS"] == "-buildvcs=false -mod=vendor"
    assert build_mounts(cache, module) == []


def test_download_uses_the_users_proxy_settings_and_nothing_else(tmp_path: Path) -> None:
    goroot = tmp_path / "toolchains" / "go1.26.6" / "go"
    toolchain = Toolchain("1.26.6", goroot, "0" * 64)
    host = {
        "GOPROXY": "https://goproxy.corp", "GOPRIVATE": "corp.example/*",
        "GONOSUMDB": "corp.example", "GOFLAGS": "-tags=netgo", "AWS_SECRET_ACCESS_KEY": "x",
        "HOME": str(tmp_path / "user"),
    }  # fmt: skip
    env = download_env(toolchain, tmp_path, host)
    assert env["GOPROXY"] == "https://goproxy.corp" and env["GOPRIVATE"] == "corp.example/*"
    assert env["GOFLAGS"] == "-buildvcs=false -modcacherw -tags=netgo"
    assert env["GOMODCACHE"] == str(tmp_path / "modcache")
    assert "AWS_SECRET_ACCESS_KEY" not in env and "NETRC" not in env
    (tmp_path / "user").mkdir()
    (tmp_path / "user" / ".netrc").write_text("machine goproxy.corp login u password p\n")
    assert download_env(toolchain, tmp_path, host)["NETRC"] == str(tmp_path / "user" / ".netrc")


def test_go_mod_download_leaves_the_users_go_sum_as_it_was(tmp_path: Path) -> None:
    from harness.modules import _unchanged

    (tmp_path / "go.mod").write_text("module m\n")
    with _unchanged(tmp_path, ("go.mod", "go.sum")):
        (tmp_path / "go.sum").write_text("example.com/dep v1.0.0/go.mod h1:x=\n")  # as go does
        (tmp_path / "go.mod").write_text("module m\n\nrequire example.com/dep v1.0.0\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["go.mod"]
    assert (tmp_path / "go.mod").read_text() == "module m\n"

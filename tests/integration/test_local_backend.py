"""The local backend with real Go programs: a hang gives a goroutine dump, a hog is OOM-killed."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from harness import goenv, toolchains
from harness.backends.local import LocalBackend
from harness.model import ExecResult, ExecSpec, Toolchain

pytestmark = pytest.mark.integration

PROGRAMS = {
    "hang": """package main

import "time"

func main() {
	go func() { time.Sleep(time.Hour) }()
	time.Sleep(time.Hour)
}
""",
    "hog": """package main

var keep [][]byte

func main() {
	for {
		chunk := make([]byte, 1<<20)
		for i := range chunk {
			chunk[i] = byte(i)
		}
		keep = append(keep, chunk)
	}
}
""",
    "boom": """package main

func main() { panic("boom") }
""",
}


@pytest.fixture(scope="module")
def go122() -> Toolchain:
    """Go 1.22 from the user's gxm cache (provisioned there on first use)."""
    return toolchains.provision("1.22", goenv.cache_dir())


@pytest.fixture(scope="module")
def binaries(go122: Toolchain, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The three programs built with `go build` run through the backend itself."""
    module = tmp_path_factory.mktemp("progs")
    (module / "go.mod").write_text("module progs\n\ngo 1.22\n")
    for name, source in PROGRAMS.items():
        (module / name).mkdir()
        (module / name / "main.go").write_text(source)
    out = module / "bin"
    gocache = goenv.cache_dir() / "gocache" / f"go{go122.version}"
    env = goenv.go_env(go122, "", gocache, {})
    argv = (str(go122.go), "build", "-o", f"{out}/", "./hang", "./hog", "./boom")
    build = ExecSpec(
        argv, tuple(env.items()), module, module / "build.out", module / "build.err", 600
    )
    with LocalBackend() as backend:
        result = backend.execute(build, go122)
    assert result.exit_code == 0, (module / "build.err").read_text()
    return out


def run(go122: Toolchain, binary: Path, tmp_path: Path, **limits: object) -> ExecResult:
    env = (("PATH", "/usr/bin:/bin"), ("GOTRACEBACK", "all"))
    spec = ExecSpec(
        (str(binary),),
        env,
        tmp_path,
        tmp_path / "out",
        tmp_path / "err",
        **limits,  # type: ignore[arg-type]
    )
    with LocalBackend() as backend:
        return backend.execute(spec, go122)


def test_hang_times_out_with_a_goroutine_dump(
    go122: Toolchain, binaries: Path, tmp_path: Path
) -> None:
    result = run(go122, binaries / "hang", tmp_path, timeout_s=1.0, grace_s=10.0)
    stderr = (tmp_path / "err").read_text()
    assert result.timed_out and not result.oom_killed
    assert result.exit_code == 2  # Go's own exit after the SIGQUIT dump: no SIGKILL needed
    assert "SIGQUIT: quit" in stderr and "goroutine " in stderr


def test_unbounded_allocation_is_oom_killed(
    go122: Toolchain, binaries: Path, tmp_path: Path
) -> None:
    result = run(go122, binaries / "hog", tmp_path, timeout_s=60.0, memory_limit_bytes=200 << 20)
    assert result.oom_killed and result.signal == signal.SIGKILL and not result.timed_out
    assert result.peak_rss_bytes is not None and result.peak_rss_bytes > 200 << 20


def test_panic_exits_2_with_its_message(go122: Toolchain, binaries: Path, tmp_path: Path) -> None:
    result = run(go122, binaries / "boom", tmp_path, timeout_s=60.0)
    assert result.exit_code == 2 and result.signal is None and not result.timed_out
    assert "panic: boom" in (tmp_path / "err").read_text()

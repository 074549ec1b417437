"""gxm's own time against the shell loop it replaces (`nox -s perf`).

For one cell, each pair times:
- `gxm run --cells CELL --repeats N --backend B` (everything: plan, build, runs, records, reports);
- a hand-written loop doing the same work: one `go build -o bin/ ./cmd/...` of the same fixtures
  with the same environment, then every fixture binary run with the same environment knobs
  (GXM_DURATION, GXM_SEED, GOGC, ...) the same number of times, warm-up runs included; on the
  docker backend each build and run is a `docker run --rm` of gxm's toolchain image with the same
  restrictions (no network, read-only root, tmpfs /tmp, non-root user, memory/CPU/pids limits,
  the warm GOCACHE volume).

The commands and knobs are read from the `[shell]` trace of a warm-up `gxm run --verbose` (gxm
prints every build and run it does as a replayable line), so both sides do the same work by
construction. Pairs are interleaved and alternate which side goes first; each prints its ratio,
then min/median/max of the ratios and the load average. Real work only: nothing is simulated.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
IMAGE_GOROOT = "/opt/gxm/go"  # where gxm's toolchain images keep Go
NOBODY = "65534:65534"


@dataclass(frozen=True)
class Command:
    """One traced command: its working directory, the environment it was given, argv."""

    cwd: str
    env: dict[str, str]
    argv: list[str]
    cpus: str = ""  # `taskset -c CPUS` of a pinned (bench) run


def parse_shell_line(line: str) -> Command:
    """`(cd DIR && K=V ... argv)` (gxm's `[shell]` format) → Command."""
    text = line.split("[shell] ", 1)[1].strip()
    cwd = ""
    if text.startswith("(cd "):
        text = text.removeprefix("(").removesuffix(")")
        words = shlex.split(text)
        cwd, words = words[1], words[3:]  # cd DIR && ...
    else:
        words = shlex.split(text)
    env: dict[str, str] = {}
    while words and "=" in words[0] and not words[0].startswith("/"):
        key, _, value = words.pop(0).partition("=")
        env[key] = value
    if words[:2] == ["taskset", "-c"]:
        return Command(cwd, env, words[3:], words[2])
    return Command(cwd, env, words)


def gxm(args: argparse.Namespace, out: Path, *options: str) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "harness", *options, "run", "--profile", args.profile, "--cells",
            args.cell, "--repeats", str(args.repeats), "--backend", args.backend, "--out",
            str(out), "--seed", "1", "--jobs", str(args.jobs)]  # fmt: skip
    return subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, check=False)


def trace(args: argparse.Namespace, out: Path) -> tuple[Command, list[Command]]:
    """The build command and the run commands of a verbose warm-up gxm run."""
    done = gxm(args, out, "--verbose")
    if done.returncode not in (0, 1):
        sys.exit(f"warm-up gxm run failed ({done.returncode}):\n{done.stderr[-2000:]}")
    lines = [parse_shell_line(ln) for ln in done.stderr.splitlines() if "[shell] " in ln]
    builds = [c for c in lines if "build" in c.argv[1:2]]
    runs = [c for c in lines if c not in builds and c.env.get("GXM_RESULT")]
    if len(builds) != 1 or not runs:
        sys.exit(f"expected one build and some runs in the trace, got {len(builds)}/{len(runs)}")
    return builds[0], runs


def _run_env(run: Command, work: Path, i: int) -> dict[str, str]:
    env = dict(run.env)
    env.update(HOME=str(work), TMPDIR=str(work), GXM_RESULT=str(work / f"result-{i}.json"))
    return env


def hand_loop_local(build: Command, runs: list[Command], work: Path, timeout_s: float) -> None:
    """What a team would write: build once, run each binary with its knobs."""
    bin_dir = work / "bin"
    argv = [
        a if not a.startswith("/") or not a.endswith("/") else f"{bin_dir}/" for a in build.argv
    ]
    env = {**build.env, "PATH": "/usr/bin:/bin", "HOME": str(work), "GOTMPDIR": str(work)}
    env.setdefault("GOCACHE", str(Path.home() / ".cache" / "go-build"))
    subprocess.run(argv, cwd=build.cwd, env={**os.environ, **env}, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    for i, run in enumerate(runs):
        binary = bin_dir / Path(run.argv[0]).name
        pin = ["taskset", "-c", run.cpus] if run.cpus else []
        with contextlib.suppress(subprocess.TimeoutExpired):
            subprocess.run([*pin, str(binary)], cwd=work, env=_run_env(run, work, i),
                           timeout=timeout_s, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)  # fmt: skip


def _docker_image(version: str) -> str:
    out = subprocess.run(["docker", "images", "--filter", "label=dev.gxm", "--format",
                          "{{.Repository}}:{{.Tag}}", f"gxm-go:{version}-*"],
                         capture_output=True, text=True, check=True).stdout.split()  # fmt: skip
    if not out:
        sys.exit(f"no gxm toolchain image for go{version}: run the warm-up first")
    return out[0]


def _docker_base(args: argparse.Namespace, memory: str) -> list[str]:
    return ["docker", "run", "--rm", "--network", "none", "--read-only", "--init",
            "--tmpfs", "/tmp", "--user", NOBODY, "--memory", memory, "--memory-swap", memory,
            "--cpus", str(args.cpus), "--pids-limit", str(args.pids)]  # fmt: skip


def hand_loop_docker(
    args: argparse.Namespace, build: Command, runs: list[Command], work: Path
) -> None:
    """The same loop as `docker run --rm` calls: build in the toolchain image, run each binary."""
    goroot = build.argv[0].rsplit("/bin/go", 1)[0]
    version = Path(goroot).parent.name.removeprefix("go")
    image = _docker_image(version)
    work.chmod(0o777)
    env = {k: v.replace(goroot, IMAGE_GOROOT) for k, v in build.env.items()}
    env.update(HOME="/tmp", GOCACHE="/gocache", GOTMPDIR="/tmp")
    build_cmd = [*_docker_base(args, args.build_memory),
                 "-v", f"{build.cwd}:{build.cwd}:ro", "-v", f"{work}:{work}",
                 "-v", f"gxm-gocache-go{version}:/gocache", "-w", build.cwd,
                 *(f"-e{k}={v}" for k, v in env.items()), image,
                 f"{IMAGE_GOROOT}/bin/go", "build", "-o", f"{work}/bin/",
                 *[a for a in build.argv[2:] if a.startswith("./")]]  # fmt: skip
    subprocess.run(build_cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for i, run in enumerate(runs):
        run_env = _run_env(run, Path("/tmp"), i)
        run_env["GXM_RESULT"] = f"{work}/result-{i}.json"
        pin = [f"--cpuset-cpus={run.cpus}"] if run.cpus else []
        cmd = [*_docker_base(args, args.memory), *pin, "-v", f"{work}:{work}", "-w", "/tmp",
               *(f"-e{k}={v}" for k, v in run_env.items()), image,
               f"{work}/bin/{Path(run.argv[0]).name}"]  # fmt: skip
        subprocess.run(cmd, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       timeout=args.timeout)  # fmt: skip


def timed(action) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cell", default="go1.22-default", help="cell id (default: %(default)s)")
    parser.add_argument("--backend", choices=["local", "docker"], action="append",
                        help="backend(s) to measure (default: both)")  # fmt: skip
    parser.add_argument("--profile", default="smoke", help="matrix profile (default: smoke)")
    parser.add_argument("--repeats", type=int, default=2, help="runs per fixture (default: 2)")
    parser.add_argument("--pairs", type=int, default=4, help="timed pairs (default: 4)")
    parser.add_argument("--jobs", type=int, default=1,
                        help="gxm's --jobs (default 1: the loop is serial, so the ratio is gxm's "
                             "own cost; more shows what parallel runs buy)")  # fmt: skip
    parser.add_argument("--timeout", type=float, default=60, help="per-run timeout in the loop, s")
    parser.add_argument("--memory", default="1g", help="run memory limit in the docker loop")
    parser.add_argument("--build-memory", default="4g", help="build memory limit (docker loop)")
    parser.add_argument("--cpus", type=float, default=2, help="CPU limit (docker loop)")
    parser.add_argument("--pids", type=int, default=4096, help="pids limit (docker loop)")
    args = parser.parse_args()
    results: dict[str, list[tuple[float, float]]] = {}
    for backend in args.backend or ["local", "docker"]:
        args.backend = backend
        with tempfile.TemporaryDirectory(prefix="gxm-perf-") as tmp:
            results[backend] = measure(args, Path(tmp))
    print(json.dumps({b: [{"gxm_s": g, "loop_s": h} for g, h in r] for b, r in results.items()}))
    return 0


def measure(args: argparse.Namespace, tmp: Path) -> list[tuple[float, float]]:
    """Warm-up (one gxm run, traced; one loop), then interleaved timed pairs."""
    build, runs = trace(args, tmp / "warmup")
    print(f"== {args.backend}: {args.cell}, {len(runs)} runs per side "
          f"(warm-up runs included), {args.pairs} pairs, gxm --jobs {args.jobs}",
          file=sys.stderr)  # fmt: skip

    def loop(work: Path) -> None:
        work.mkdir(parents=True)
        if args.backend == "local":
            hand_loop_local(build, runs, work, args.timeout)
        else:
            hand_loop_docker(args, build, runs, work)

    loop(tmp / "loop-warmup")
    wrote = len(list((tmp / "loop-warmup").glob("result-*.json")))
    print(f"warm-up loop: {wrote} of {len(runs)} runs wrote a result file", file=sys.stderr)
    pairs = []
    for n in range(args.pairs):
        gxm_out, loop_work = tmp / f"gxm-{n}", tmp / f"loop-{n}"
        if n % 2 == 0:
            g = timed(lambda: gxm(args, gxm_out))  # noqa: B023
            h = timed(lambda: loop(loop_work))  # noqa: B023
        else:
            h = timed(lambda: loop(loop_work))  # noqa: B023
            g = timed(lambda: gxm(args, gxm_out))  # noqa: B023
        if not (tmp / f"gxm-{n}").is_dir() or not any((tmp / f"gxm-{n}").glob("*/report.txt")):
            sys.exit(f"pair {n + 1}: gxm run wrote no report; is the checkout being edited?")
        pairs.append((g, h))
        load = os.getloadavg()[0]
        print(f"pair {n + 1}: gxm {g:.1f} s, loop {h:.1f} s, ratio {g / h:.2f}  (load {load:.1f})",
              file=sys.stderr)  # fmt: skip
    ratios = [g / h for g, h in pairs]
    gxm_median = statistics.median(g for g, _ in pairs)
    loop_median = statistics.median(h for _, h in pairs)
    print(f"{args.backend}: ratio min {min(ratios):.2f} median {statistics.median(ratios):.2f} "
          f"max {max(ratios):.2f}; gxm median {gxm_median:.1f} s, loop median {loop_median:.1f} s",
          file=sys.stderr)  # fmt: skip
    return pairs


if __name__ == "__main__":
    sys.exit(main())

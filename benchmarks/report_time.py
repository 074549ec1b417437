"""How long `gxm report RUN --write` takes from scratch: every plot drawn, every report written.

    python benchmarks/report_time.py RUN_DIR [--times 10] [--checkout DIR ...]

The run directory is copied to a temporary directory first (the original is never touched); before
each timing its plots/ is removed, so every plot is drawn again. With `--checkout` (repeatable:
another working tree of gxm, e.g. `git worktree add /tmp/old <commit>`), the checkouts are timed
in turns, one command each per round, so a slower or faster spell of the machine falls on all of
them alike. Prints every time and min/median/max per checkout. Real work only.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def time_report(checkout: Path, run_dir: Path) -> float:
    """Seconds of one `python -m harness report RUN --write` in `checkout`, plots/ removed first."""
    shutil.rmtree(run_dir / "plots", ignore_errors=True)
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "harness", "report", str(run_dir), "--write"],
        cwd=checkout,
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - started
    if done.returncode not in (0, 1):  # 1: the run has unexpected verdicts, still a report
        sys.exit(f"gxm report failed in {checkout} ({done.returncode}):\n{done.stderr[-2000:]}")
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path, help="a finished run directory (gxm run --out …)")
    parser.add_argument("--times", type=int, default=10, help="timings per checkout")
    parser.add_argument(
        "--checkout", type=Path, action="append", default=[], help="other gxm working trees"
    )
    args = parser.parse_args()
    if not (args.run / "run.json").is_file():
        parser.error(f"{args.run}: not a run directory (no run.json)")
    checkouts = [ROOT, *args.checkout]
    seconds: dict[Path, list[float]] = {checkout: [] for checkout in checkouts}
    with tempfile.TemporaryDirectory(prefix="gxm-report-time-") as tmp:
        run_dir = Path(tmp) / args.run.name
        shutil.copytree(args.run, run_dir)
        time_report(ROOT, run_dir)  # warm-up: .pyc files, page cache
        for round_no in range(args.times):
            for checkout in checkouts if round_no % 2 == 0 else checkouts[::-1]:
                seconds[checkout].append(time_report(checkout, run_dir))
    for checkout, times in seconds.items():
        shown = " ".join(f"{s:.2f}" for s in sorted(times))
        print(f"{checkout}: {shown}")
        print(
            f"{checkout}: min {min(times):.2f} median {statistics.median(times):.2f}"
            f" max {max(times):.2f} s ({len(times)} times)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

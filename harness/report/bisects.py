"""The Bisect section of a report (and of `gxm bisect`'s output), from a run's bisect.json."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from harness import flake

PROBE_HEADERS = ["release", "role", "verdict", "runs", "outcomes", "note"]


def probe_rows(probes: Sequence[Mapping[str, Any]]) -> list[list[str]]:
    """One row per probe, in the order they ran (from bisect.json)."""
    rows = []
    for probe in probes:
        outcomes = ", ".join(f"{o} {n}" for o, n in (probe.get("outcomes") or {}).items())
        rows.append(
            [
                f"go{probe['version']}",
                str(probe["role"]),
                str(probe["verdict"]),
                str(probe["runs"]),
                outcomes or "-",
                str(probe.get("note") or ""),
            ]
        )
    return rows


def summary_lines(doc: Mapping[str, Any]) -> list[str]:
    """The verdict of a bisect.json in a few lines: what was looked for, the answer, the math."""
    criterion = (doc.get("criterion") or {}).get("text") or "the bad release's dominant failure"
    where = doc.get("goexperiment") or "default"
    lines = [
        f"bisect of {doc['fixture']} (GOEXPERIMENT {where}) from go{doc['good']} (good) to "
        f"go{doc['bad']} (bad) over {len(doc.get('releases') or [])} releases; bad = {criterion}"
    ]
    rate = doc.get("bad_rate")
    if rate:
        needed = doc.get("clean_runs_for_good")
        confidence = float(doc.get("probe_confidence") or flake.CONFIDENCE)
        lines.append(
            f"rate at the bad release: {rate['k']} of {rate['n']} runs (those before the failure "
            f"it stopped at), conservatively {flake.percent(rate['conservative_rate'])}: a probe "
            f"is good after {needed} clean runs ({confidence * 100:.1f}% sure each, so the whole "
            "search holds 95%)"
        )
    if doc.get("status") == "complete":
        lines.append(f"first bad release: go{doc['first_bad']} · last good: go{doc['last_good']}")
        if doc.get("untestable"):
            skipped = ", ".join(f"go{v}" for v in doc["untestable"])
            lines.append(f"could not run the fixture (skipped, the change may be in): {skipped}")
        lines.append(f"runs: {doc.get('runs_total')} · repeat the verdict: {doc['repeat_command']}")
    else:
        lines.append(f"status {doc.get('status')}: {doc.get('message') or 'no verdict'}")
    return lines

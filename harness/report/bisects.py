"""The Bisect section of a report (and of `gxm bisect`'s output), from a run's bisect record."""

from __future__ import annotations

from collections.abc import Sequence

from harness import flake
from harness.render import render_table
from harness.store.bisect_record import BisectRecord, ProbeRecord

PROBE_HEADERS = ["release", "role", "verdict", "runs", "outcomes", "note"]


def probe_rows(probes: Sequence[ProbeRecord]) -> list[list[str]]:
    """One row per probe, in the order they ran."""
    rows = []
    for probe in probes:
        outcomes = ", ".join(f"{o} {n}" for o, n in probe.outcomes.items()) or "-"
        rows.append(
            [
                f"go{probe.version}",
                probe.role,
                probe.verdict,
                str(probe.runs),
                outcomes,
                probe.note,
            ]
        )
    return rows


def summary_lines(record: BisectRecord) -> list[str]:
    """The verdict in a few lines: what was looked for, the answer, the flake math behind it."""
    criterion = (record.criterion or {}).get("text") or "the bad release's dominant failure"
    where = record.goexperiment or "default"
    lines = [
        f"bisect of {record.fixture} (GOEXPERIMENT {where}) from go{record.good} (good) to "
        f"go{record.bad} (bad) over {len(record.releases)} releases; bad = {criterion}"
    ]
    rate = record.bad_rate
    if rate:
        confidence = record.probe_confidence or flake.CONFIDENCE
        lines.append(
            f"rate at the bad release: {rate['k']} of {rate['n']} runs (those before the failure "
            f"it stopped at), conservatively {flake.percent(rate['conservative_rate'])}: a probe "
            f"is good after {record.clean_runs_for_good} clean runs ({confidence * 100:.1f}% "
            "sure each, so the whole search holds 95%)"
        )
    if record.status == "complete":
        lines.append(f"first bad release: go{record.first_bad} · last good: go{record.last_good}")
        if record.untestable:
            skipped = ", ".join(f"go{v}" for v in record.untestable)
            lines.append(f"could not run the fixture (skipped, the change may be in): {skipped}")
        lines.append(f"runs: {record.runs_total} · repeat the verdict: {record.repeat_command}")
    else:
        lines.append(f"status {record.status}: {record.message or 'no verdict'}")
    return lines


def bisect_text(record: BisectRecord | None) -> str:
    """What `gxm bisect` prints on stdout: the verdict lines, then the probes as a table."""
    if record is None:
        return ""
    table = render_table(PROBE_HEADERS, probe_rows(record.probes), "txt")
    return "\n".join(summary_lines(record)) + "\n" + table + "\n"

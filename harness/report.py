"""Report rendering: a crash table that reads like a build dashboard, a GC pause table, and the
whole run as one JSON document.

One table renderer serves every text format; a `_Style` says how a format differs (tablefmt,
headings, header line breaks, escaping). Tables are built as plain strings first, and tabulate is
called with `disable_numparse=True`, so a Go version such as `1.20` is never rendered as `1.2`.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tabulate import tabulate

from harness.errors import EXIT_INFRA, EXIT_NOTHING_SELECTED, EXIT_OK, EXIT_UNEXPECTED, UsageError
from harness.model import FIXTURE_KINDS, Outcome
from harness.stats import summarize_runs
from harness.store import RunData, cell_has_infra_error, load_run

FORMATS = ("txt", "md", "mediawiki", "json")
UNEXPECTED_MARK = "!"
MISSING = "-"
_OUTCOME_ORDER = [o.value for o in Outcome]


def _underlined(title: str, level: int) -> str:
    """Terminal headings: `=` under the title, `-` under sections, a colon below that."""
    if level >= 3:
        return f"{title}:"
    return f"{title}\n{('=' if level == 1 else '-') * len(title)}"


@dataclass(frozen=True)
class _Style:
    """How one text format differs from the others."""

    tablefmt: str
    multiline_headers: bool
    heading: Callable[[str, int], str]
    escape: Callable[[str], str]
    bullet: str


_STYLES: dict[str, _Style] = {
    "txt": _Style("simple", True, _underlined, lambda text: text, bullet=""),
    "md": _Style(
        "pipe", False, lambda t, n: f"{'#' * n} {t}", lambda text: text.replace("|", "\\|"), "- "
    ),
    "mediawiki": _Style(
        "mediawiki",
        False,
        lambda t, n: f"{'=' * n} {t} {'=' * n}",
        lambda text: text.replace("|", "&#124;"),
        "* ",
    ),
}


# --- cell text ----------------------------------------------------------------------------------


def cell_header(cell_id: str, multiline: bool) -> str:
    """Column header of a cell: `go1.22 arenas`, or on two lines for the terminal."""
    go_part, _, rest = cell_id.partition("-")
    return f"{go_part}\n{rest}" if multiline and rest else f"{go_part} {rest}".strip()


def signature_tag(signature: str | None) -> str:
    """A short tag for a crash signature: the signal name if it has one, else its first words."""
    if not signature:
        return ""
    signal = re.search(r"\bSIG[A-Z0-9]+\b", signature)
    if signal:
        return signal.group(0)
    text = re.sub(r"^((fatal error|panic|runtime error):\s*)+", "", signature.strip())
    words = text.split()
    tag = " ".join(words[:4])
    if len(tag) > 28:
        return tag[:27].rstrip() + "…"
    return tag + ("…" if len(words) > 4 else "")


def _summary(entry: Mapping[str, Any]) -> Mapping[str, Any]:
    """The stored summary, or one computed from the runs when a writer left it out."""
    summary = entry.get("summary")
    if isinstance(summary, Mapping) and "outcomes" in summary:
        return summary
    kind = entry.get("kind") if entry.get("kind") in FIXTURE_KINDS else "stress"
    return summarize_runs(entry.get("runs", []), str(kind))


def _outcomes_text(summary: Mapping[str, Any], build_status: str) -> str:
    counts: Counter[str] = Counter(summary.get("outcomes", {}))
    n = sum(counts.values())
    if n == 0:
        return build_status if build_status != "ok" else "no runs"
    if set(counts) == {"unsupported"}:
        return "unsupported"
    failures = sorted((o for o in counts if o != "pass"), key=lambda o: (-counts[o], _rank(o)))
    if not failures:
        return f"pass {n}/{n}"
    parts = []
    for outcome in failures:
        tag = signature_tag(summary.get("top_signature")) if outcome == "crash" else ""
        parts.append(f"{outcome} {counts[outcome]}/{n} {tag}".rstrip())
    return ", ".join(parts)


def _rank(outcome: str) -> int:
    return _OUTCOME_ORDER.index(outcome) if outcome in _OUTCOME_ORDER else len(_OUTCOME_ORDER)


def crash_cell_text(cell_doc: Mapping[str, Any] | None, fixture: str) -> str:
    """`pass 3/3`, `crash 1/3 SIGSEGV`, `unsupported`, `build-error`, `n/a` (fixture not selected
    for the cell) or `not run` (cell missing from the run); `!` appended when unexpected."""
    if cell_doc is None:
        return "not run"
    entry = cell_doc.get("fixtures", {}).get(fixture)
    if entry is None:
        return "n/a"
    status = entry.get("status") or "ran"  # the whole fixture's outcome when it did not run
    if status == "ran":
        status = str(cell_doc.get("build", {}).get("status", "ok"))
    text = _outcomes_text(_summary(entry), status)
    return f"{text} {UNEXPECTED_MARK}" if entry.get("verdict") == "unexpected" else text


# --- tables -------------------------------------------------------------------------------------


def _fixture_names(data: RunData, kind: str | None = None) -> list[str]:
    names = {
        name
        for cell in data.cells
        for name, entry in cell.get("fixtures", {}).items()
        if kind is None or entry.get("kind") == kind
    }
    return sorted(names)


def crash_table(data: RunData, multiline_headers: bool) -> tuple[list[str], list[list[str]]]:
    """Rows are fixtures, columns are cells in matrix order."""
    columns = data.cell_ids()
    headers = ["fixture"] + [cell_header(cid, multiline_headers) for cid in columns]
    rows = [
        [name] + [crash_cell_text(data.cell(cid), name) for cid in columns]
        for name in _fixture_names(data)
    ]
    return headers, rows


def format_ns(ns: float | None) -> str:
    """Human duration with three significant digits: `850ns`, `31.0µs`, `212µs`, `1.20ms`."""
    if ns is None:
        return MISSING
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if abs(ns) >= scale:
            return _three_digits(ns / scale) + unit
    return f"{ns:.0f}ns"


def _three_digits(value: float) -> str:
    if abs(value) >= 100:
        return f"{value:.0f}"
    return f"{value:.1f}" if abs(value) >= 10 else f"{value:.2f}"


def change_text(candidate: Mapping[str, Any] | None, baseline: Mapping[str, Any] | None) -> str:
    """Change of a metric's median against the baseline's: `+12%`; `?` when either side has
    fewer than 3 values (no significance test yet); `-` when either is missing or zero."""
    if not candidate or not baseline or not baseline.get("median"):
        return MISSING
    if min(int(candidate.get("n", 0)), int(baseline.get("n", 0))) < 3:
        return "?"
    percent = round((candidate["median"] / baseline["median"] - 1) * 100)
    return f"{percent:+d}%"


def _baseline_id(cell: Mapping[str, Any]) -> str:
    """Same Go (and other axes), default experiment: `go1.22-arenas` → `go1.22-default`."""
    cid = str(cell["id"])
    exp = str(cell.get("goexperiment", "")).replace(",", "+") or "default"
    prefix = f"go{cell['go']}-{exp}"
    suffix = cid[len(prefix) :] if cid.startswith(prefix) else ""
    return f"go{cell['go']}-default{suffix}"


PAUSE_HEADERS = ["fixture", "go", "experiment", "p50 pause", "p99 pause", "max pause"]
PAUSE_HEADERS += ["GC CPU", "GC cycles", "peak RSS", "n", "p99 vs default"]
PAUSE_ALIGN = ["left"] * 3 + ["right"] * 8


def _metric(metrics: Mapping[str, Any], name: str) -> float | None:
    entry = metrics.get(name)
    return None if entry is None else entry.get("median")


def _pause_row(
    name: str, cell_doc: Mapping[str, Any], base_doc: Mapping[str, Any] | None
) -> list[str]:
    cell = cell_doc["cell"]
    summary = _summary(cell_doc["fixtures"][name])
    metrics = summary.get("metrics", {})
    cpu, cycles, rss = (
        _metric(metrics, m) for m in ("gc_cpu_fraction", "gc_cycles", "peak_rss_bytes")
    )
    p99 = metrics.get("gc_pause_p99_ns")
    n = p99["n"] if p99 else summary.get("outcomes", {}).get("pass", 0)
    if base_doc is cell_doc:
        change = "base"
    else:
        base_entry = (base_doc or {}).get("fixtures", {}).get(name)
        base_metrics = _summary(base_entry).get("metrics", {}) if base_entry else {}
        change = change_text(p99, base_metrics.get("gc_pause_p99_ns"))
    return [
        name,
        str(cell["go"]),
        str(cell["id"]).split("-", 1)[1],
        *(format_ns(_metric(metrics, f"gc_pause_{q}_ns")) for q in ("p50", "p99", "max")),
        MISSING if cpu is None else f"{cpu * 100:.1f}%",
        MISSING if cycles is None else f"{cycles:.0f}",
        MISSING if rss is None else f"{rss / 2**20:.1f} MiB",
        str(n),
        change,
    ]


def pause_table(data: RunData) -> list[list[str]]:
    """Rows (fixture, cell) for bench fixtures in cells that built; medians over passing runs."""
    rows = []
    for name in _fixture_names(data, kind="bench"):
        for cid in data.cell_ids():
            doc = data.cell(cid)
            if doc is None or name not in doc.get("fixtures", {}):
                continue
            if doc.get("build", {}).get("status") != "ok":
                continue
            rows.append(_pause_row(name, doc, data.cell(_baseline_id(doc["cell"]))))
    return rows


def _table(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    style: _Style,
    colalign: Sequence[str] | None = None,
) -> str:
    """The one table renderer: every format and every table goes through here."""
    return tabulate(
        [[style.escape(v) for v in row] for row in rows],
        headers=[style.escape(h) for h in headers],
        tablefmt=style.tablefmt,
        disable_numparse=True,
        colalign=colalign,
    )


# --- whole report -------------------------------------------------------------------------------


def _all_outcomes(data: RunData) -> Counter[str]:
    counts: Counter[str] = Counter()
    for cell in data.cells:
        for entry in cell.get("fixtures", {}).values():
            counts.update(_summary(entry).get("outcomes", {}))
    return counts


def _verdicts(data: RunData) -> list[tuple[str, str, Mapping[str, Any]]]:
    """(cell id, fixture, entry) for every unexpected verdict, in report order."""
    found = []
    for cid in data.cell_ids():
        for name, entry in sorted((data.cell(cid) or {}).get("fixtures", {}).items()):
            if entry.get("verdict") == "unexpected":
                found.append((cid, name, entry))
    return found


def header_lines(data: RunData) -> list[str]:
    """Run id, status, backend, start, profile; toolchains; outcome counts and unexpected count."""
    run = data.run
    profile = (run.get("matrix") or {}).get("profile") or "(top level)"
    first = (
        f"status {run.get('status', '?')} · backend {run.get('backend', '?')}"
        f" · started {run.get('started') or '?'} · profile {profile}"
    )
    resolved = sorted(
        {(str(c["cell"]["go"]), str(c["cell"].get("go_resolved"))) for c in data.cells}
    )
    toolchains = ", ".join(f"{go} = go{full}" for go, full in resolved) or "none"
    builds = Counter(str(c.get("build", {}).get("status", "?")) for c in data.cells)
    build_text = ", ".join(f"{s} {builds[s]}" for s in sorted(builds))
    missing = data.missing_cells()
    cells = f"{len(data.cells)} cells ({build_text})" + (
        f", {len(missing)} not run" if missing else ""
    )
    counts = _all_outcomes(data)
    runs = ", ".join(f"{o} {counts[o]}" for o in sorted(counts, key=_rank)) or "none"
    second = f"Go: {toolchains} · {cells} · runs: {runs} · unexpected: {len(_verdicts(data))}"
    return [first, second]


def _unexpected_lines(data: RunData) -> list[str]:
    """One line per unexpected verdict: what happened, what was expected, the first bad log."""
    lines = []
    for cid, name, entry in _verdicts(data):
        expected = "/".join(entry.get("expected", [])) or "?"
        bad = [
            r for r in entry.get("runs", []) if r.get("outcome") not in entry.get("expected", [])
        ]
        where = f" ({bad[0]['log']})" if bad and bad[0].get("log") else ""
        text = crash_cell_text(data.cell(cid), name)
        lines.append(
            f"{cid} {name}: {text.removesuffix(' ' + UNEXPECTED_MARK)}, expected {expected}{where}"
        )
    return lines


CRASH_LEGEND = (
    f"{UNEXPECTED_MARK} = unexpected (not what fixtures.yaml expects) · n/a = fixture not selected"
    " for this cell · not run = no result for this cell · SIG…/words = most common crash signature"
)
PAUSE_LEGEND = (
    "Medians over passing runs. p99 vs default: change of the median p99 pause against the same"
    " Go's default-experiment cell; ? = fewer than 3 runs on a side (no significance test yet)."
)


def _sections(data: RunData, style: _Style) -> list[str]:
    headers, rows = crash_table(data, style.multiline_headers)
    parts = [style.heading("Crashes", 2), _table(headers, rows, style), CRASH_LEGEND]
    unexpected = _unexpected_lines(data)
    if unexpected:
        parts += [
            style.heading("Unexpected", 3),
            "\n".join(style.bullet + style.escape(line) for line in unexpected),
        ]
    pauses = pause_table(data)
    parts.append(style.heading("GC pauses", 2))
    if pauses:
        parts += [_table(PAUSE_HEADERS, pauses, style, PAUSE_ALIGN), PAUSE_LEGEND]
    else:
        parts.append("No bench fixture ran in a cell that built.")
    return parts


def render_data(data: RunData, fmt: str) -> str:
    """The report of a loaded run in `fmt` (one of FORMATS), ending with a newline."""
    if fmt == "json":
        document = {"run": data.run, "cells": list(data.cells)}
        return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    style = _STYLES.get(fmt)
    if style is None:
        raise UsageError(f"unknown report format {fmt!r}; choose one of {', '.join(FORMATS)}")
    title = style.heading(f"gxm run {data.run_id}", 1)
    lines = [style.bullet + style.escape(line) for line in header_lines(data)]
    parts = [title, "\n".join(lines), *_sections(data, style)]
    return "\n\n".join(parts) + "\n"


def render(run_dir: Path, fmt: str) -> str:
    """The report of the run in `run_dir`: txt (terminal), md (GitHub pipe tables), mediawiki,
    or json (run.json and every cell document as one JSON object `{"run", "cells"}`)."""
    if fmt not in FORMATS:  # before loading: a typo should not cost a read of the whole run
        raise UsageError(f"unknown report format {fmt!r}; choose one of {', '.join(FORMATS)}")
    return render_data(load_run(run_dir), fmt)


def exit_code_for_data(data: RunData) -> int:
    """DESIGN exit codes for a finished run: 3 when it has no cells; 4 when anything hit an
    infra-error, the run failed, or a listed cell has no result (killed; resume it); 1 when some
    verdict is unexpected; else 0."""
    if not data.cells and not data.run.get("cells"):
        return EXIT_NOTHING_SELECTED
    if data.missing_cells() or data.run.get("status") == "failed":
        return EXIT_INFRA
    if any(cell_has_infra_error(cell) for cell in data.cells):
        return EXIT_INFRA
    return EXIT_UNEXPECTED if _verdicts(data) else EXIT_OK


def exit_code_for(run_dir: Path) -> int:
    """`exit_code_for_data` of the run in `run_dir`."""
    return exit_code_for_data(load_run(run_dir))

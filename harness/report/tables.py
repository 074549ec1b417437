"""The rows of the outcome tables, as plain strings: the crash dashboard, crash rates with their
Wilson intervals and Fisher's test against the baseline, unexpected verdicts, the run header and
the cells. (Bench numbers are `pauses.py`'s.)

Rendering (per format) is `harness.render`'s job; this module decides what each cell says.
The baseline of a cell is the same Go (and other axes) with the default experiment.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from typing import Any

from harness import flake, stats
from harness.masking import mask_secrets
from harness.model import FIXTURE_KINDS, Outcome, has_extra_axes
from harness.store import RunData, natural_key
from harness.store.records import CellInfo, CellResult, FixtureResult

UNEXPECTED_MARK = "!"
INCONCLUSIVE_MARK = "?"  # an infra-error: not known, never blamed on the fixture
MISSING = "-"
_OUTCOME_ORDER = [o.value for o in Outcome]


# --- cells and fixtures -------------------------------------------------------------------------


def fixture_summary(entry: FixtureResult) -> Mapping[str, Any]:
    """The stored summary, or one computed from the runs when a writer left it out."""
    if "outcomes" in entry.summary:
        return entry.summary
    kind = entry.kind if entry.kind in FIXTURE_KINDS else "stress"
    return stats.summarize_runs(entry.runs, kind)


def fixture_of(doc: CellResult | None, name: str) -> FixtureResult | None:
    """The record of fixture `name` in a cell, or None (cell not run, or fixture not selected)."""
    return doc.fixtures.get(name) if doc is not None else None


def cell_header(cell_id: str, multiline: bool) -> str:
    """Column header of a cell: `go1.22 arenas`, or on two lines for the terminal."""
    go_part, _, rest = cell_id.partition("-")
    return f"{go_part}\n{rest}" if multiline and rest else f"{go_part} {rest}".strip()


def experiment_of(cell_id: str) -> str:
    """`go1.22-arenas+cgocheck2` → `arenas+cgocheck2` (everything after the Go part)."""
    return cell_id.split("-", 1)[1] if "-" in cell_id else cell_id


def cell_order_key(cell_id: str) -> tuple[Any, ...]:
    """Cells by Go version, the default experiment first, then experiments by name."""
    go_part, _, rest = cell_id.partition("-")
    return (natural_key(go_part), rest != "default", natural_key(rest))


def baseline_id(cell: CellInfo) -> str:
    """The cell this one is compared with: the `baseline` its document names (a cell with a
    GODEBUG, build mode or cgo axis: same Go and experiment, those at their default), else the
    same Go with the default experiment: `go1.22-arenas` → `go1.22-default`."""
    if cell.axes.get("baseline"):
        return str(cell.axes["baseline"])
    return f"go{cell.go}-default"


AXES_BASELINE_NOTE = (
    "Cells with a GODEBUG value, a build mode (race, asan, msan) or cgo off are compared with the"
    " same Go and experiment with those at their default (go1.26-default-race with"
    " go1.26-default), not with the default experiment."
)


def has_axis_cells(data: RunData) -> bool:
    """Whether some cell of the run has a GODEBUG, build mode or cgo axis (newer runs only)."""
    return any(has_extra_axes(c.cell.axes) for c in data.results)


def fixture_names(data: RunData, kind: str | None = None) -> list[str]:
    """Every fixture of the run (of one kind when given), sorted."""
    names = {
        name
        for cell in data.results
        for name, entry in cell.fixtures.items()
        if kind is None or entry.kind == kind
    }
    return sorted(names)


def signature_tag(signature: str | None) -> str:
    """A short tag for a crash signature: the signal name if it has one (with the C function
    when the signature names one: `SIGSEGV in sdk_parse_header`), else its first words."""
    if not signature:
        return ""
    in_c = re.match(r"^SIG[A-Z0-9]+ in \S", signature)
    if in_c:
        return signature if len(signature) <= 48 else signature[:47] + "…"
    signal = re.search(r"\bSIG[A-Z0-9]+\b", signature)
    if signal:
        return signal.group(0)
    text = re.sub(r"^(Test|Benchmark|Example|Fuzz)\S*: ", "", signature.strip())  # test at fault
    text = re.sub(r"^((fatal error|panic|runtime error):\s*)+", "", text)
    words = text.split()
    tag = " ".join(words[:4])
    if len(tag) > 28:
        return tag[:27].rstrip() + "…"
    return tag + ("…" if len(words) > 4 else "")


def outcome_rank(outcome: str) -> int:
    return _OUTCOME_ORDER.index(outcome) if outcome in _OUTCOME_ORDER else len(_OUTCOME_ORDER)


def _outcomes_text(summary: Mapping[str, Any], build_status: str) -> str:
    counts: Counter[str] = Counter(summary.get("outcomes", {}))
    n = sum(counts.values())
    if n == 0:
        return build_status if build_status != "ok" else "no runs"
    if set(counts) == {Outcome.UNSUPPORTED.value}:
        return Outcome.UNSUPPORTED.value
    failures = sorted(
        (o for o in counts if o != Outcome.PASS.value), key=lambda o: (-counts[o], outcome_rank(o))
    )
    if not failures:
        return f"pass {n}/{n}"
    parts = []
    for outcome in failures:
        tag = signature_tag(summary.get("top_signature")) if outcome == Outcome.CRASH.value else ""
        parts.append(f"{outcome} {counts[outcome]}/{n} {tag}".rstrip())
    return ", ".join(parts)


def crash_cell_text(cell_doc: CellResult | None, fixture: str) -> str:
    """`pass 3/3`, `crash 1/3 SIGSEGV`, `unsupported`, `build-error`, `n/a` (fixture not selected
    for the cell) or `not run` (cell missing from the run); `!` appended when unexpected."""
    if cell_doc is None:
        return "not run"
    entry = cell_doc.fixtures.get(fixture)
    if entry is None:
        return "n/a"
    status = entry.status  # the whole fixture's outcome when it did not run
    if status == "ran":
        status = cell_doc.build.status
    text = _outcomes_text(fixture_summary(entry), status)
    mark = {"unexpected": UNEXPECTED_MARK, "inconclusive": INCONCLUSIVE_MARK}
    suffix = mark.get(entry.verdict)
    return f"{text} {suffix}" if suffix else text


def crash_table(data: RunData, multiline_headers: bool) -> tuple[list[str], list[list[str]]]:
    """Rows are fixtures, columns are cells in matrix order."""
    columns = data.cell_ids()
    headers = ["fixture"] + [cell_header(cid, multiline_headers) for cid in columns]
    rows = [
        [name] + [crash_cell_text(data.cell(cid), name) for cid in columns]
        for name in fixture_names(data)
    ]
    return headers, rows


# --- crash rates and warnings -------------------------------------------------------------------

CRASH_RATE_HEADERS = [
    "fixture",
    "cell",
    "failed",
    "rate",
    "95% interval",
    "baseline",
    "vs baseline",
    "runs to reproduce (95%)",
]


def _percent(x: float) -> str:
    return f"{x * 100:.0f}%"


def _crash_rate_row(data: RunData, name: str, doc: CellResult) -> list[str] | None:
    rate = fixture_summary(doc.fixtures[name]).get("crash_rate") or {}
    base_doc = data.cell(baseline_id(doc.cell))
    base_entry = fixture_of(base_doc, name)
    base_rate = (fixture_summary(base_entry).get("crash_rate") or {}) if base_entry else {}
    if not rate.get("n") or (not rate.get("k") and not base_rate.get("k")):
        return None
    lo, hi = rate["ci95"]
    row = [name, doc.id, f"{rate['k']}/{rate['n']}", _percent(rate["rate"])]
    row.append(f"{_percent(lo)}–{_percent(hi)}")
    reproduce = runs_to_reproduce_text(rate["k"], rate["n"])
    if base_doc is doc:
        return row + ["base", MISSING, reproduce]
    if not base_rate.get("n"):
        return row + ["no runs", MISSING, reproduce]
    change = stats.compare_rates(rate["k"], rate["n"], base_rate["k"], base_rate["n"])
    verdict = stats.p_text(change.p_value or 1.0) + ("" if change.significant else " ~")
    return row + [f"{base_rate['k']}/{base_rate['n']}", verdict, reproduce]


def runs_to_reproduce_text(failures: int, runs: int) -> str:
    """For a flaky failure (some runs failed, not all): the runs that see it at least once with
    95% confidence at the conservative rate (`harness.flake`); `-` when it is not flaky."""
    if not 0 < failures < runs:
        return MISSING
    return flake.reproduce_text(failures, runs)


def crash_rate_table(data: RunData) -> list[list[str]]:
    """Rows for every (fixture, cell) where the cell or its baseline had a failed run: k/n, the
    rate with its Wilson 95% interval, and Fisher's exact p against the baseline."""
    rows = []
    for name in fixture_names(data):
        for cid in data.cell_ids():
            doc = data.cell(cid)
            if doc is not None and name in doc.fixtures:
                row = _crash_rate_row(data, name, doc)
                if row is not None:
                    rows.append(row)
    return rows


def c_crash_entries(data: RunData) -> list[tuple[str, str]]:
    """Per fixture and cell, the first run that crashed in C: a line saying which and what, and
    the C backtrace file beside its logs (relative to the run directory)."""
    entries = []
    for name in fixture_names(data):
        for cid in data.cell_ids():
            entry = fixture_of(data.cell(cid), name)
            first = next((r for r in entry.runs if r.c_backtrace), None) if entry else None
            if first is not None and first.c_backtrace:
                full = "full C backtrace" if first.c_backtrace_tool else "C fault frame"
                text = f"{cid} {name} run {first.i}: {first.signature} — {full}:"
                entries.append((text, first.c_backtrace))
    return entries


# --- run summary --------------------------------------------------------------------------------


def all_outcomes(data: RunData) -> Counter[str]:
    counts: Counter[str] = Counter()
    for cell in data.results:
        for entry in cell.fixtures.values():
            counts.update(fixture_summary(entry).get("outcomes", {}))
    return counts


def unexpected_verdicts(data: RunData) -> list[tuple[str, str, FixtureResult]]:
    """(cell id, fixture, entry) for every unexpected verdict, in report order."""
    found = []
    for cid in data.cell_ids():
        doc = data.cell(cid)
        for name, entry in sorted(doc.fixtures.items()) if doc else ():
            if entry.verdict == "unexpected":
                found.append((cid, name, entry))
    return found


def header_lines(data: RunData) -> list[str]:
    """Run id, status, backend, start, profile, seed; toolchains; outcome and unexpected counts."""
    run = data.document
    profile = run.matrix.profile or "(top level)"
    seed = f" · seed {run.seed}" if run.seed is not None else ""
    first = (
        f"status {run.status} · backend {run.backend}"
        f" · started {run.started or '?'} · profile {profile}{seed}"
    )
    resolved = sorted({(c.cell.go, c.cell.go_resolved) for c in data.results})
    toolchains = (
        ", ".join(f"{go} = " + (f"go{full}" if full else "unavailable") for go, full in resolved)
        or "none"
    )
    builds = Counter(c.build.status for c in data.results)
    build_text = ", ".join(f"{s} {builds[s]}" for s in sorted(builds))
    missing = data.missing_cells()
    cells = f"{len(data.results)} cells ({build_text})" + (
        f", {len(missing)} not run" if missing else ""
    )
    counts = all_outcomes(data)
    runs = ", ".join(f"{o} {counts[o]}" for o in sorted(counts, key=outcome_rank)) or "none"
    unexpected = len(unexpected_verdicts(data))
    second = f"Go: {toolchains} · {cells} · runs: {runs} · unexpected: {unexpected}"
    return [first, second]


def unexpected_lines(data: RunData) -> list[str]:
    """One line per unexpected verdict: what happened, what was expected, the first bad log."""
    lines = []
    for cid, name, entry in unexpected_verdicts(data):
        expected = "/".join(entry.expected) or "?"
        bad = [r for r in entry.runs if r.outcome.value not in entry.expected]
        where = f" ({bad[0].log})" if bad and bad[0].log else ""
        warm = " (in a warm-up run)" if bad and all(r.warmup for r in bad) else ""
        text = crash_cell_text(data.cell(cid), name).removesuffix(" " + UNEXPECTED_MARK)
        lines.append(f"{cid} {name}: {text}{warm}, expected {expected}{where}")
    return lines


CELL_HEADERS = ["cell", "go", "GOEXPERIMENT", "build", "build s", "env"]


def cells_table(data: RunData) -> list[list[str]]:
    """One row per cell: resolved Go, effective experiments, build status and time, and the extra
    environment of its runs (secret-looking values masked)."""
    rows = []
    for doc in (data.cell(cid) for cid in data.cell_ids()):
        if doc is None:
            continue
        cell, build = doc.cell, doc.build
        env = mask_secrets(dict(cell.settings.get("env") or {}))
        experiments = "+".join(cell.effective_experiments) or "(default)"
        rows.append(
            [
                cell.id,
                f"go{cell.go_resolved or cell.go}",
                experiments,
                build.status,
                f"{build.seconds:.1f}",
                " ".join(f"{k}={v}" for k, v in sorted(env.items())) or MISSING,
            ]
        )
    return rows

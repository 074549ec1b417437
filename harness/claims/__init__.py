"""Claims: what articles say about GOEXPERIMENT=arenas and cgo, judged by a run's measurements.

go_fixtures/claims.yaml (schema 1) lists claims, each tied to fixtures, cells and a rule
(`harness.claims.rules`). `evaluate_claims` applies the rules to a run directory and gives every
claim a verdict — confirmed, refuted or inconclusive — with its evidence (cells, counts, medians,
p-values); evidence that is missing makes a claim inconclusive, never guessed. `render_claims`
is the claims section of `gxm report RUN --claims`. One rule kind (`go-api`) needs an answer
from the run's own toolchains: `record_go_api_checks` asks `go doc` and records the answers in
`<run>/claims/go_api.json`, so the verdict rests on something the run holds.
"""

from __future__ import annotations

import json
import logging
import re
import textwrap
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import harness
from harness import goenv
from harness.atomic import write_json_atomic
from harness.claims import spec
from harness.claims.go_api import AnswerCache, GoApiRule
from harness.claims.rules import INCONCLUSIVE, VERDICTS, Measured
from harness.claims.spec import Rule
from harness.errors import GxmError, UsageError
from harness.hostcmd import run_command
from harness.markup import TABLE_FORMATS, inline
from harness.model import Toolchain
from harness.render import STYLES, render_table
from harness.store import RunData, RunStore, load_run, utc_timestamp

log = logging.getLogger("gxm.claims")

GO_API_FILE = "go_api.json"
GO_API_SCHEMA = "gxm.claims.go-api/1"
GO_DOC_TIMEOUT_S = 120.0
FORMATS = (*TABLE_FORMATS, "json")
_WRAP = {"claim": 34, "evidence": 72}


@dataclass(frozen=True)
class Claim:
    """One claim of claims.yaml: its id, its words, where it comes from, the rule judging it."""

    id: str
    text: str
    rule: Rule
    source: str | None = None
    note: str | None = None


@dataclass(frozen=True)
class ClaimVerdict:
    """A claim's verdict on one run, the one-line reason and the evidence lines behind it."""

    claim: Claim
    verdict: str
    reason: str
    evidence: tuple[str, ...] = ()
    cells: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.claim.id,
            "claim": self.claim.text,
            "verdict": self.verdict,
            "reason": self.reason,
            "evidence": list(self.evidence),
            "cells": list(self.cells),
            "note": self.claim.note,
            "source": self.claim.source,
        }


def default_claims_path() -> Path:
    """go_fixtures/claims.yaml beside the harness package."""
    return Path(harness.__file__).resolve().parent.parent / "go_fixtures" / "claims.yaml"


def load_claims(path: Path) -> list[Claim]:
    """Every claim of a claims.yaml, in file order; a bad file is a `file:line` MatrixError.

    Fixture names are checked against the fixtures.yaml in the same folder when there is one.
    """
    return [Claim(**fields) for fields in spec.parse_claims(Path(path))]


def evaluate_claims(
    run_dir: Path, claims: Sequence[Claim], data: RunData | None = None
) -> list[ClaimVerdict]:
    """Each claim's verdict on the run in `run_dir`, from its cell documents (`data` when the
    caller has the run loaded already) and recorded `go doc` answers only. A rule that trips
    over odd data gives `inconclusive`, saying why."""
    run = data if data is not None else load_run(Path(run_dir))
    measured = Measured(run, read_go_api_checks(Path(run_dir)))
    verdicts = []
    for claim in claims:
        try:
            judged = claim.rule.evaluate(measured)
        except (KeyError, TypeError, ValueError, re.error) as exc:
            reason = f"could not evaluate the rule on this run: {type(exc).__name__}: {exc}"
            verdicts.append(ClaimVerdict(claim, INCONCLUSIVE, reason))
            continue
        verdict = ClaimVerdict(claim, judged.verdict, judged.reason, judged.evidence, judged.cells)
        verdicts.append(verdict)
    return verdicts


def judge_run(run_dir: Path, data: RunData | None = None) -> list[ClaimVerdict]:
    """go_fixtures/claims.yaml judged on the run in `run_dir` (loaded as `data` when given).

    Records the `go doc` answers its `go-api` rules need first when the run has none yet and
    the run's toolchains are in the cache. A report judges once and formats the verdicts for
    each of its formats (`format_verdicts`).
    """
    claims = load_claims(default_claims_path())
    ensure_go_api_checks(Path(run_dir), claims)
    return evaluate_claims(Path(run_dir), claims, data)


def render_claims(run_dir: Path, fmt: str) -> str:
    """The claims section of a report on `run_dir` in `fmt` (txt, md, mediawiki, html, json):
    the verdicts of `judge_run`, formatted."""
    if fmt not in FORMATS:
        raise UsageError(f"unknown claims format {fmt!r}; choose one of {', '.join(FORMATS)}")
    return format_verdicts(judge_run(Path(run_dir)), fmt)


# --- rendering ---------------------------------------------------------------------------------


def summary_line(verdicts: Sequence[ClaimVerdict]) -> str:
    counts = Counter(v.verdict for v in verdicts)
    parts = ", ".join(f"{counts[v]} {v}" for v in VERDICTS)
    return (
        f"{len(verdicts)} claims: {parts}. Verdicts come only from this run's measurements; "
        "a claim whose evidence is missing is inconclusive."
    )


def verdicts_document(verdicts: Sequence[ClaimVerdict]) -> dict[str, Any]:
    """Verdicts as the JSON object of `format_verdicts(…, "json")`: the summary and each claim."""
    return {"summary": summary_line(verdicts), "claims": [v.to_dict() for v in verdicts]}


def format_verdicts(verdicts: Sequence[ClaimVerdict], fmt: str) -> str:
    """Verdicts as one table (`#`, claim, verdict, evidence) in `fmt`, or JSON."""
    if fmt == "json":
        return json.dumps(verdicts_document(verdicts), indent=2, ensure_ascii=False) + "\n"
    rows = [
        [v.claim.id, _claim_lines(v.claim, fmt), v.verdict, _evidence_lines(v, fmt)]
        for v in verdicts
    ]
    table = render_table(["#", "claim", "verdict", "evidence"], rows, fmt)
    return f"{STYLES[fmt].paragraph(summary_line(verdicts))}\n\n{table}\n"


def _claim_lines(claim: Claim, fmt: str) -> list[str]:
    lines = [claim.text] + ([f"(source: {claim.source})"] if claim.source else [])
    return _wrapped(lines, fmt, _WRAP["claim"], hanging=0)


def _evidence_lines(verdict: ClaimVerdict, fmt: str) -> list[str]:
    lines = [verdict.reason, *verdict.evidence]
    if verdict.claim.note:
        lines.append(f"note: {verdict.claim.note}")
    return _wrapped(lines, fmt, _WRAP["evidence"], hanging=2)


def _wrapped(lines: Sequence[str], fmt: str, width: int, hanging: int) -> list[str]:
    """The lines of one table cell: for txt wrapped to `width` (continuations indented by
    `hanging` more than their line, code spans already written as terminal text so a wrap
    never splits one), as they are elsewhere (the page wraps them)."""
    if fmt != "txt":
        return list(lines)
    wrapped = []
    for line in (inline(line, "txt") for line in lines):
        indent = " " * (len(line) - len(line.lstrip()) + hanging)
        wrapped += textwrap.wrap(line, width, subsequent_indent=indent) or [""]
    return wrapped


# --- go doc answers recorded into the run ------------------------------------------------------


def read_go_api_checks(run_dir: Path) -> tuple[dict[str, Any], ...] | None:
    """The recorded `go doc` answers of a run, or None when none were recorded (or unreadable)."""
    path = RunStore(Path(run_dir)).claims_path(GO_API_FILE)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(document, dict) or document.get("schema") != GO_API_SCHEMA:
        return None
    checks = document.get("checks")
    return tuple(c for c in checks if isinstance(c, dict)) if isinstance(checks, list) else None


def ensure_go_api_checks(run_dir: Path, claims: Sequence[Claim]) -> None:
    """Record the `go doc` answers when claims need them and the run has none; a failure is
    logged (the claim then stays inconclusive), never raised."""
    if not _go_api_checks_missing(run_dir, claims):
        return
    try:
        record_go_api_checks(run_dir, claims)
    except (GxmError, OSError) as exc:
        log.warning("could not record go doc answers for %s: %s", run_dir, exc)


def record_go_api_checks_ahead(run_dir: Path, versions: Sequence[str]) -> None:
    """Record the `go doc` answers `judge_run` will need while a run's builds and runs go on,
    from the Go versions it resolved: they were a third of the time from a run's last run to its
    reports. Meant for background work that drops its errors (`report.Preload`): `judge_run`
    then asks again, and says why."""
    claims = load_claims(default_claims_path())
    if _go_api_checks_missing(run_dir, claims):
        record_go_api_checks(run_dir, claims, versions=sorted(versions))


def _go_api_checks_missing(run_dir: Path, claims: Sequence[Claim]) -> bool:
    """Whether `claims` have `go-api` rules and the run has no `go doc` answers recorded yet."""
    needed = any(isinstance(c.rule, GoApiRule) for c in claims)
    return needed and read_go_api_checks(run_dir) is None


def record_go_api_checks(
    run_dir: Path,
    claims: Sequence[Claim],
    cache: Path | None = None,
    versions: Sequence[str] | None = None,
) -> Path | None:
    """Ask `go doc PKG.SYMBOL` (and the control symbol) of every `go-api` rule with each Go
    version the run used (`versions`, else those of its cell documents), from the toolchain cache
    (never downloading one), and write the answers to `<run>/claims/go_api.json`. Returns that
    path, or None when no toolchain could answer."""
    run_dir = Path(run_dir)
    cache = cache or goenv.cache_dir()
    rules = [c.rule for c in claims if isinstance(c.rule, GoApiRule)]
    questions = sorted({(r.package, s) for r in rules for s in (r.symbol, r.control)})
    if versions is None:
        results = load_run(run_dir).results
        versions = sorted({str(r.cell.go_resolved) for r in results if r.cell.go_resolved})
    checks = []
    for go in versions:
        answers = AnswerCache(cache, go)
        for package, symbol in questions:
            record = answers.get(f"{package}.{symbol}") or _go_doc(cache, go, package, symbol)
            answers.keep(f"{package}.{symbol}", record)
            checks.append(record)
    if not any("exists" in check for check in checks):
        return None
    path = RunStore(run_dir).claims_path(GO_API_FILE)
    path.parent.mkdir(parents=True, exist_ok=True)
    recorded = utc_timestamp(datetime.now(timezone.utc))
    write_json_atomic(path, {"schema": GO_API_SCHEMA, "recorded": recorded, "checks": checks})
    return path


def _go_doc(cache: Path, go: str, package: str, symbol: str) -> dict[str, Any]:
    """One recorded answer: `exists` true/false, or `error` when `go doc` could not tell."""
    record: dict[str, Any] = {"go": go, "package": package, "symbol": symbol}
    goroot = cache / "toolchains" / f"go{go}" / "go"
    if not (goroot / "bin" / "go").is_file():
        record["error"] = f"go{go} is not in the toolchain cache {cache}"
        return record
    toolchain = Toolchain(go, goroot, "")
    env = goenv.go_env(toolchain, "", cache / "gocache" / f"go{go}", {}, cache=cache)
    argv = [str(toolchain.go), "doc", f"{package}.{symbol}"]
    record["command"] = " ".join(argv)
    # outside any module, in gxm's own HOME for go (go_env made it): no scratch directory that a
    # SIGKILLed gxm would leave behind in /tmp
    proc = run_command(
        argv, timeout_s=GO_DOC_TIMEOUT_S, env=env, cwd=Path(env["HOME"]), check=False
    )
    output = (proc.stderr or proc.stdout).strip()
    if proc.returncode == 0:
        record["exists"] = True
    elif "no symbol" in output or "no method" in output:
        record["exists"] = False
    else:
        record["error"] = output[-200:] or f"go doc exited {proc.returncode}"
    record["output"] = output.splitlines()[0][:200] if output else ""
    return record

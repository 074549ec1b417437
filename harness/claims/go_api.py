"""The `go-api` claim rule: whether `go doc PKG.SYMBOL` finds a symbol, per Go version.

It reads the answers `claims.record_go_api_checks` recorded into the run; an answer counts only
where the control symbol was found with the same toolchain. `AnswerCache` keeps the answers of
each provisioned toolchain, so `go doc` is asked once per exact Go release, not once per run.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.atomic import write_json_atomic
from harness.claims.rules import CONFIRMED, INCONCLUSIVE, REFUTED, Judgement, Measured
from harness.model import go_version_key
from harness.toolchains import installed

ANSWERS_SCHEMA = "gxm.go-doc-answers/1"


class AnswerCache:
    """The `go doc` answers of one provisioned toolchain, in `<cache>/go_api/go<version>.json`,
    valid while the toolchain is the one they were asked of (its wheel's sha256 in its
    toolchain.json): an exact Go release's API never changes. Only answers are kept (a symbol
    found or not), never a failure to ask; without a known sha256 nothing is kept."""

    def __init__(self, cache: Path, go: str) -> None:
        self.path = cache / "go_api" / f"go{go}.json"
        toolchain = installed(cache, go)
        self.toolchain = toolchain.sha256 if toolchain else ""
        self.answers: dict[str, dict[str, Any]] = {}
        if self.toolchain:
            doc = _read_json(self.path)
            if doc.get("schema") == ANSWERS_SCHEMA and doc.get("toolchain") == self.toolchain:
                answers = doc.get("answers")
                self.answers = dict(answers) if isinstance(answers, dict) else {}

    def get(self, question: str) -> dict[str, Any] | None:
        record = self.answers.get(question)
        return dict(record) if isinstance(record, dict) and "exists" in record else None

    def keep(self, question: str, record: dict[str, Any]) -> None:
        if self.toolchain and "exists" in record and self.answers.get(question) != record:
            self.answers[question] = record
            doc = {"schema": ANSWERS_SCHEMA, "toolchain": self.toolchain, "answers": self.answers}
            with contextlib.suppress(OSError):  # a cache that cannot be written only costs time
                self.path.parent.mkdir(parents=True, exist_ok=True)
                write_json_atomic(self.path, doc)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return doc if isinstance(doc, dict) else {}


@dataclass(frozen=True)
class GoApiRule:
    package: str
    symbol: str
    control: str

    def evaluate(self, measured: Measured) -> Judgement:
        if not measured.go_api:
            reason = "no `go doc` answers recorded in this run (toolchains not in the cache?)"
            return Judgement(INCONCLUSIVE, reason)
        answers: dict[str, dict[str, Mapping[str, Any]]] = {}
        for record in measured.go_api:
            if record.get("package") == self.package:
                answers.setdefault(str(record.get("go")), {})[str(record.get("symbol"))] = record
        evidence, usable, found = [], [], []
        for go in sorted(answers, key=go_version_key):
            target, control = answers[go].get(self.symbol), answers[go].get(self.control)
            evidence.append(
                f"go{go}: {_answer(target, self.package, self.symbol)}; control "
                f"{_answer(control, self.package, self.control)}"
            )
            if control and control.get("exists") is True and target and "exists" in target:
                usable.append(go)
                if target["exists"] is True:
                    found.append(go)
        name = f"{self.package}.{self.symbol}"
        if found:
            return Judgement(CONFIRMED, f"`go doc` finds {name} in go{found[0]}", tuple(evidence))
        if usable:
            span = f"go{usable[0]}–go{usable[-1]}"
            reason = f"{name} does not exist in any of {len(usable)} Go versions ({span})"
            return Judgement(REFUTED, reason, tuple(evidence))
        return Judgement(
            INCONCLUSIVE, "no usable `go doc` answer (control not found)", tuple(evidence)
        )


def _answer(record: Mapping[str, Any] | None, package: str, symbol: str) -> str:
    if record is None:
        return f"{package}.{symbol}: not asked"
    if record.get("error"):
        return f"{package}.{symbol}: error ({record['error']})"
    return f"{package}.{symbol}: {'found' if record.get('exists') else 'no such symbol'}"

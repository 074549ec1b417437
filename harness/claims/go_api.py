"""The `go-api` claim rule: whether `go doc PKG.SYMBOL` finds a symbol, per Go version.

It reads the answers `claims.record_go_api_checks` recorded into the run; an answer counts only
where the control symbol was found with the same toolchain.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from harness.claims.rules import CONFIRMED, INCONCLUSIVE, REFUTED, Judgement, Measured
from harness.model import go_version_key


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

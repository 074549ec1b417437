"""Reading go_fixtures/claims.yaml (schema 1) into claim rules; every mistake is `file:line: …`.

```yaml
schema: 1
claims:
  - id: "7"
    claim: "Touching memory of a freed arena crashes the program."
    source: "…"                      # optional: where the claim is made
    note: "…"                        # optional: shown under the evidence
    rule:
      kind: outcomes                 # crash-rate | outcomes | metric | first-version | go-api
      fixtures: [arena_uaf, arena_uaf_partial]
      cells: {with: arenas}          # go: ">=1.22" | experiment: arenas | with / without: arenas
      confirm: [{all: [arena_uaf, arena_uaf_partial], outcome: crash, signature: "freed user"}]
      refute: [{any: [arena_uaf_partial], outcome: pass, checks: {read_after_free: "survived.*"}}]
```
The keys of each kind are in `RULE_KEYS`; `harness.claims.rules` says what each rule does.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness.claims.go_api import GoApiRule
from harness.claims.rules import (
    CrashRateRule,
    FirstVersionRule,
    MetricRule,
    OutcomesRule,
)
from harness.claims.runs import CellFilter, RunCondition, Side, go_matches
from harness.fixtures import load_fixtures
from harness.model import Outcome
from harness.yamlsrc import (
    YMap,
    YSeq,
    check_keys,
    describe,
    load_yaml,
    require_int,
    require_map,
    require_number,
    require_seq,
    require_str,
)

SCHEMA = 1
CLAIM_KEYS = ("id", "claim", "source", "note", "rule")
RULE_KEYS = {
    "crash-rate": ("kind", "treatment", "baseline", "alpha", "min_runs"),
    "outcomes": ("kind", "fixtures", "cells", "confirm", "refute", "require", "min_runs", "show"),
    "metric": ("kind", "metric", "fixtures", "treatment", "baseline", "direction")
    + ("alpha", "min_runs", "share", "min_comparisons"),
    "first-version": ("kind", "experiment", "claimed", "fixtures"),
    "go-api": ("kind", "package", "symbol", "control"),
}
CELL_KEYS = ("go", "experiment", "with", "without")
SIDE_KEYS = ("fixtures", "cells", "signature")
CONDITION_KEYS = ("all", "any", "outcome", "signature", "checks", "cells")
OUTCOMES = tuple(o.value for o in Outcome)
_NAME = re.compile(r"^[A-Za-z0-9_.+-]+$")

Rule = CrashRateRule | OutcomesRule | MetricRule | FirstVersionRule | GoApiRule


def parse_claims(path: Path) -> list[dict[str, Any]]:
    """The fields of each `Claim` of the file (id, text, rule, source, note), in file order."""
    doc = load_yaml(path)
    check_keys(doc, ("schema", "claims"), "claims.yaml", required=("schema", "claims"))
    if type(doc["schema"]) is not int or doc["schema"] != SCHEMA:
        raise doc.error("schema", f"schema must be {SCHEMA}, got {describe(doc['schema'])}", True)
    entries = require_seq(doc, "claims", "`claims`", null_ok=False)
    known = _known_fixtures(Path(path))
    claims, ids = [], set()
    for index, entry in enumerate(entries):
        if not isinstance(entry, YMap):
            raise entries.error(
                index, f"claim {index + 1} must be a mapping, got {describe(entry)}"
            )
        fields = _claim(entry, known)
        if fields["id"] in ids:
            raise entry.error("id", f"claim id {fields['id']!r} is used twice", True)
        ids.add(fields["id"])
        claims.append(fields)
    return claims


def _known_fixtures(path: Path) -> set[str] | None:
    catalogue = path.resolve().parent / "fixtures.yaml"
    return set(load_fixtures(catalogue)) if catalogue.is_file() else None


def _claim(entry: YMap, known: set[str] | None) -> dict[str, Any]:
    check_keys(entry, CLAIM_KEYS, "a claim", required=("id", "claim", "rule"))
    raw_id = entry.get("id")
    if isinstance(raw_id, bool) or not isinstance(raw_id, (int, str)) or not str(raw_id).strip():
        raise entry.error("id", f"a claim id is a number or a word, got {describe(raw_id)}", True)
    where = f"claim {raw_id}"
    rule = require_map(entry, "rule", f"{where}: rule", null_ok=False)
    return {
        "id": str(raw_id),
        "text": require_str(entry, "claim", f"{where}: claim", one_line=False).strip(),
        "rule": _rule(rule, where, known),
        "source": _optional_text(entry, "source", where),
        "note": _optional_text(entry, "note", where),
    }


def _optional_text(entry: YMap, key: str, where: str) -> str | None:
    if entry.get(key) is None:
        return None
    return " ".join(require_str(entry, key, f"{where}: {key}", one_line=False).split())


def _rule(rule: YMap, where: str, known: set[str] | None) -> Rule:
    kind = rule.get("kind")
    if kind not in RULE_KEYS:
        allowed = " | ".join(RULE_KEYS)
        raise rule.error(
            "kind", f"{where}: rule kind must be {allowed}, got {describe(kind)}", True
        )
    check_keys(rule, RULE_KEYS[kind], f"{where}: {kind} rule", required=_REQUIRED[kind])
    return _BUILDERS[kind](rule, f"{where}: {kind} rule", known)


_REQUIRED = {
    "crash-rate": ("treatment", "baseline"),
    "outcomes": ("fixtures",),
    "metric": ("metric", "fixtures", "treatment", "baseline"),
    "first-version": ("experiment", "claimed", "fixtures"),
    "go-api": ("package", "symbol", "control"),
}


def _crash_rate(rule: YMap, where: str, known: set[str] | None) -> Rule:
    return CrashRateRule(
        treatment=_side(require_map(rule, "treatment", f"{where}: treatment"), where, known),
        baseline=_side(require_map(rule, "baseline", f"{where}: baseline"), where, known),
        alpha=_alpha(rule, where),
        min_runs=_int(rule, "min_runs", where, 20),
    )


def _outcomes(rule: YMap, where: str, known: set[str] | None) -> Rule:
    parsed = OutcomesRule(
        fixtures=_fixtures(rule, "fixtures", where, known),
        cells=_cells(rule, "cells", where),
        confirm=_conditions(rule, "confirm", where, known),
        refute=_conditions(rule, "refute", where, known),
        require=_conditions(rule, "require", where, known),
        min_runs=_int(rule, "min_runs", where, 1),
        show=_words(rule, "show", where),
    )
    if not parsed.confirm and not parsed.refute:
        raise rule.error(None, f"{where} needs `confirm` or `refute` conditions")
    return parsed


def _metric(rule: YMap, where: str, known: set[str] | None) -> Rule:
    direction = rule.get("direction", "lower")
    if direction not in ("lower", "higher"):
        raise rule.error("direction", f"{where}: direction is lower | higher", True)
    share = require_number(rule, "share", f"{where}: share") if "share" in rule else 0.5
    if share > 1:
        raise rule.error("share", f"{where}: share is a fraction of comparisons, 0..1", True)
    return MetricRule(
        metric=_word(rule, "metric", where),
        fixtures=_fixtures(rule, "fixtures", where, known),
        treatment=_cells(rule, "treatment", where),
        baseline=_cells(rule, "baseline", where),
        direction=str(direction),
        alpha=_alpha(rule, where),
        min_runs=_int(rule, "min_runs", where, 5),
        share=share,
        min_comparisons=_int(rule, "min_comparisons", where, 3),
    )


def _first_version(rule: YMap, where: str, known: set[str] | None) -> Rule:
    claimed = require_str(rule, "claimed", f"{where}: claimed")
    if not re.match(r"^1\.\d+$", claimed):
        raise rule.error("claimed", f'{where}: claimed is a Go version like "1.22"', True)
    return FirstVersionRule(
        experiment=_word(rule, "experiment", where),
        claimed=claimed,
        fixtures=_fixtures(rule, "fixtures", where, known),
    )


def _go_api(rule: YMap, where: str, known: set[str] | None) -> Rule:
    return GoApiRule(
        package=_word(rule, "package", where),
        symbol=_word(rule, "symbol", where),
        control=_word(rule, "control", where),
    )


_BUILDERS: dict[str, Callable[[YMap, str, set[str] | None], Rule]] = {
    "crash-rate": _crash_rate,
    "outcomes": _outcomes,
    "metric": _metric,
    "first-version": _first_version,
    "go-api": _go_api,
}


# --- pieces ------------------------------------------------------------------------------------


def _word(entry: YMap, key: str, where: str) -> str:
    value = require_str(entry, key, f"{where}: {key}").strip()
    if not _NAME.match(value.replace("/", "")):
        raise entry.error(key, f"{where}: {key} must be one word, got {value!r}", True)
    return value


def _words(entry: YMap, key: str, where: str) -> tuple[str, ...]:
    items = require_seq(entry, key, f"{where}: {key}")
    for i, item in enumerate(items):
        if not isinstance(item, str) or not _NAME.match(item):
            raise items.error(i, f"{where}: {key} lists names, got {describe(item)}")
    return tuple(items)


def _int(entry: YMap, key: str, where: str, default: int) -> int:
    return require_int(entry, key, f"{where}: {key}", minimum=1) if key in entry else default


def _alpha(entry: YMap, where: str) -> float:
    if "alpha" not in entry:
        return 0.05
    alpha = require_number(entry, "alpha", f"{where}: alpha")
    if alpha >= 1:
        raise entry.error("alpha", f"{where}: alpha is a significance level below 1", True)
    return alpha


def _fixtures(entry: YMap, key: str, where: str, known: set[str] | None) -> tuple[str, ...]:
    items = require_seq(entry, key, f"{where}: {key}", null_ok=False)
    if not items:
        raise entry.error(key, f"{where}: {key} lists no fixture", True)
    for i, name in enumerate(items):
        if not isinstance(name, str) or (known is not None and name not in known):
            raise items.error(i, f"{where}: {describe(name)} is not a fixture of fixtures.yaml")
    return tuple(items)


def _regex(entry: YMap, key: str, where: str) -> str | None:
    if entry.get(key) is None:
        return None
    pattern = require_str(entry, key, f"{where}: {key}")
    try:
        re.compile(pattern)
    except re.error as exc:
        raise entry.error(key, f"{where}: {key} is not a regular expression: {exc}", True) from None
    return pattern


def _cells(entry: YMap, key: str, where: str) -> CellFilter:
    cells = require_map(entry, key, f"{where}: {key}")
    check_keys(cells, CELL_KEYS, f"{where}: {key}")
    values = {k: _word(cells, k, f"{where}: {key}") for k in CELL_KEYS[1:] if k in cells}
    if "go" in cells:
        values["go"] = require_str(cells, "go", f"{where}: {key}.go")
        try:
            go_matches(values["go"], "1.22")
        except ValueError:
            message = f'{where}: {key}.go is a Go version condition like "1.22", ">=1.22", "<1.22"'
            raise cells.error("go", message, True) from None
    return CellFilter(
        go=values.get("go"),
        experiment=values.get("experiment"),
        with_experiment=values.get("with"),
        without_experiment=values.get("without"),
    )


def _side(side: YMap, where: str, known: set[str] | None) -> Side:
    check_keys(side, SIDE_KEYS, f"{where}: side", required=("fixtures",))
    return Side(
        fixtures=_fixtures(side, "fixtures", where, known),
        cells=_cells(side, "cells", where),
        signature=_regex(side, "signature", where),
    )


def _conditions(
    entry: YMap, key: str, where: str, known: set[str] | None
) -> tuple[RunCondition, ...]:
    items = require_seq(entry, key, f"{where}: {key}")
    conditions = []
    for i, item in enumerate(items):
        if not isinstance(item, YMap):
            raise items.error(i, f"{where}: a {key} condition is a mapping, got {describe(item)}")
        conditions.append(_condition(item, f"{where}: {key}", known))
    return tuple(conditions)


def _condition(item: YMap, where: str, known: set[str] | None) -> RunCondition:
    check_keys(item, CONDITION_KEYS, where)
    quantifiers = [q for q in ("all", "any") if q in item]
    if len(quantifiers) != 1:
        raise item.error(None, f"{where}: say `all: [fixtures]` or `any: [fixtures]` (one of them)")
    outcomes = item.get("outcome")
    outcome_list = list(outcomes) if isinstance(outcomes, YSeq) else [outcomes] if outcomes else []
    for outcome in outcome_list:
        if outcome not in OUTCOMES:
            message = (
                f"{where}: outcome must be one of {', '.join(OUTCOMES)}, got {describe(outcome)}"
            )
            raise item.error("outcome", message, True)
    checks = require_map(item, "checks", f"{where}: checks")
    for name, value in checks.items():
        if isinstance(value, (YMap, YSeq)) or value is None:
            raise checks.error(name, f"{where}: check {name!r} must be one value", True)
        if isinstance(value, str):
            _regex(checks, name, where)
    return RunCondition(
        quantifier=quantifiers[0],
        fixtures=_fixtures(item, quantifiers[0], where, known),
        outcomes=tuple(str(o) for o in outcome_list),
        signature=_regex(item, "signature", where),
        checks=tuple(checks.items()),
        cells=_cells(item, "cells", where) if "cells" in item else None,
    )

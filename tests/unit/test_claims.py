"""Claims: claims.yaml parsing and every rule kind judged on hand-built cell documents (no Go)."""

from __future__ import annotations

import json
import stat
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pytest

from harness import claims as claims_mod
from harness.claims import (
    Claim,
    evaluate_claims,
    format_verdicts,
    load_claims,
    record_go_api_checks,
)
from harness.claims.go_api import GoApiRule
from harness.claims.rules import CrashRateRule, MetricRule, OutcomesRule
from harness.claims.runs import CellFilter, RunCondition, Side, go_matches
from harness.errors import MatrixError, UsageError
from harness.model import experiment_id
from harness.store.records import RunRecord

REPO = Path(__file__).resolve().parents[2]
CLAIMS_YAML = REPO / "go_fixtures" / "claims.yaml"


# --- building runs by hand ---------------------------------------------------------------------


def run_record(i: int, outcome: str, **extra: Any) -> dict[str, Any]:
    return {"i": i, "outcome": outcome, "signature": None, "metrics": {}, "checks": {}, **extra}


def runs(outcome: str, n: int, **extra: Any) -> list[dict[str, Any]]:
    return [run_record(i, outcome, **extra) for i in range(n)]


def cell_doc(
    go: str,
    goexperiment: str,
    fixtures: Mapping[str, list[dict[str, Any]] | str],
    *,
    build: str = "ok",
    resolved: str | None = None,
) -> dict[str, Any]:
    """A gxm.cell/1 document; a fixture given as a string has that status and no runs."""
    entries = {}
    for name, value in fixtures.items():
        status, fixture_runs = (value, []) if isinstance(value, str) else ("ran", value)
        entries[name] = {"kind": "stress", "status": status, "runs": fixture_runs}
    return {
        "schema": "gxm.cell/1",
        "cell": {
            "id": f"go{go}-{experiment_id(goexperiment)}",
            "go": go,
            "go_resolved": resolved or f"{go}.1",
            "goexperiment": goexperiment,
            "experiment_status": "active" if goexperiment and build == "ok" else "default",
        },
        "build": {"status": build},
        "fixtures": entries,
    }


def make_run(tmp_path: Path, cells: Iterable[dict[str, Any]]) -> Path:
    run_dir = tmp_path / "run"
    (run_dir / "cells").mkdir(parents=True)
    docs = list(cells)
    run = {"schema": "gxm.run/1", "run_id": "r1", "cells": [d["cell"]["id"] for d in docs]}
    (run_dir / "run.json").write_text(json.dumps(run))
    for doc in docs:
        (run_dir / "cells" / f"{doc['cell']['id']}.json").write_text(json.dumps(doc))
    return run_dir


def judge(tmp_path: Path, rule: Any, cells: Iterable[dict[str, Any]]) -> claims_mod.ClaimVerdict:
    run_dir = make_run(tmp_path, cells)
    return evaluate_claims(run_dir, [Claim("x", "a claim", rule)])[0]


# --- claims.yaml -------------------------------------------------------------------------------


def test_the_shipped_claims_file_has_the_twelve_claims_with_every_rule_kind() -> None:
    claims = load_claims(CLAIMS_YAML)
    assert [c.id for c in claims] == [str(i) for i in range(1, 13)]
    kinds = {type(c.rule).__name__ for c in claims}
    assert kinds == {
        "CrashRateRule",
        "OutcomesRule",
        "MetricRule",
        "FirstVersionRule",
        "GoApiRule",
    }


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ("{kind: vibes}", "rule kind must be crash-rate"),
        ("{kind: outcomes, fixtures: [no_such_fixture], refute: [{all: [arena_uaf]}]}",
         "'no_such_fixture' is not a fixture"),
        ("{kind: outcomes, fixtures: [arena_uaf], refute: [{all: [arena_uaf], signature: '('}]}",
         "not a regular expression"),
        ("{kind: outcomes, fixtures: [arena_uaf]}", "needs `confirm` or `refute`"),
        ("{kind: metric, metric: x, fixtures: [gc_live_heap], treatment: {go: new}, baseline: {}}",
         "Go version condition"),
        ("{kind: go-api, package: runtime, symbol: X}", "missing the required key 'control'"),
    ],
)  # fmt: skip
def test_a_bad_claims_file_names_its_line(tmp_path: Path, rule: str, message: str) -> None:
    path = tmp_path / "claims.yaml"
    (tmp_path / "fixtures.yaml").write_text((REPO / "go_fixtures" / "fixtures.yaml").read_text())
    for line in (REPO / "go_fixtures" / "fixtures.yaml").read_text().splitlines():
        if line.strip().startswith("package: ./cmd/"):
            (tmp_path / line.split("./", 1)[1]).mkdir(parents=True, exist_ok=True)
    path.write_text(f"schema: 1\nclaims:\n  - id: 1\n    claim: c\n    rule: {rule}\n")
    with pytest.raises(MatrixError) as caught:
        load_claims(path)
    assert message in str(caught.value)
    assert str(caught.value).startswith(f"{path}:")


def test_duplicate_claim_ids_are_refused(tmp_path: Path) -> None:
    entry = "  - {id: 1, claim: c, rule: {kind: go-api, package: p, symbol: s, control: t}}\n"
    path = tmp_path / "claims.yaml"
    path.write_text("schema: 1\nclaims:\n" + entry + entry)
    with pytest.raises(MatrixError, match="used twice"):
        load_claims(path)


@pytest.mark.parametrize(
    ("spec", "version", "expected"),
    [("1.22", "1.22.10", True), (">=1.22", "1.21", False), (">=1.22", "1.27", True),
     ("<1.22", "1.21.13", True), ("<1.22", "1.22", False)],
)  # fmt: skip
def test_go_conditions_compare_minor_versions(spec: str, version: str, expected: bool) -> None:
    assert go_matches(spec, version) is expected


# --- crash-rate --------------------------------------------------------------------------------

SDK_RATE = CrashRateRule(
    treatment=Side(("sdk",), CellFilter(experiment="arenas")),
    baseline=Side(("sdk",), CellFilter(experiment="default")),
    min_runs=20,
)


def test_a_significantly_higher_failure_rate_confirms(tmp_path: Path) -> None:
    crashed = runs("crash", 8, signature="SIGSEGV: segmentation violation") + runs("pass", 2)
    verdict = judge(
        tmp_path,
        SDK_RATE,
        [
            cell_doc("1.22", "arenas", {"sdk": crashed}),
            cell_doc("1.22", "", {"sdk": runs("pass", 10)}),
        ],
    )
    assert verdict.verdict == "confirmed"
    assert "8/10 vs 0/10" in verdict.reason and "p<0.001" in verdict.reason
    assert any("SIGSEGV" in line for line in verdict.evidence)
    assert verdict.cells == ("go1.22-arenas", "go1.22-default")


def test_no_difference_with_enough_runs_refutes(tmp_path: Path) -> None:
    cells = [
        cell_doc(go, exp, {"sdk": runs("pass", 10)})
        for go in ("1.22", "1.23")
        for exp in ("", "arenas")
    ]
    verdict = judge(tmp_path, SDK_RATE, cells)
    assert verdict.verdict == "refuted"
    assert "0/20 vs 0/20 (p=1.000)" in verdict.reason


def test_too_few_runs_is_inconclusive_not_refuted(tmp_path: Path) -> None:
    cells = [cell_doc("1.22", exp, {"sdk": runs("pass", 3)}) for exp in ("", "arenas")]
    assert judge(tmp_path, SDK_RATE, cells).verdict == "inconclusive"


def test_a_treatment_that_does_not_build_where_the_baseline_did_confirms(tmp_path: Path) -> None:
    cells = [
        cell_doc("1.22", "arenas", {"sdk": "build-error"}, build="build-error"),
        cell_doc("1.22", "", {"sdk": runs("pass", 10)}),
    ]
    verdict = judge(tmp_path, SDK_RATE, cells)
    assert verdict.verdict == "confirmed" and "does not build" in verdict.reason


def test_only_failures_with_the_signature_count(tmp_path: Path) -> None:
    rule = CrashRateRule(
        treatment=Side(("store",), CellFilter(experiment="cgocheck2"), signature="stored into"),
        baseline=Side(("store",), CellFilter(experiment="default")),
        min_runs=5,
    )
    other = runs("crash", 6, signature="panic: something else")
    cells = [
        cell_doc("1.22", "cgocheck2", {"store": other}),
        cell_doc("1.22", "", {"store": runs("pass", 6)}),
    ]
    assert judge(tmp_path, rule, cells).verdict == "refuted"


def test_cells_without_a_counterpart_on_the_other_side_are_left_out(tmp_path: Path) -> None:
    cells = [
        cell_doc("1.21", "arenas", {"sdk": runs("crash", 10)}),  # no go1.21 baseline
        cell_doc("1.22", "arenas", {"sdk": runs("pass", 20)}),
        cell_doc("1.22", "", {"sdk": runs("pass", 20)}),
    ]
    verdict = judge(tmp_path, SDK_RATE, cells)
    assert verdict.verdict == "refuted" and "go1.21-arenas" not in verdict.cells


# --- outcomes ----------------------------------------------------------------------------------

UAF = OutcomesRule(
    fixtures=("uaf", "uaf_partial"),
    cells=CellFilter(with_experiment="arenas"),
    confirm=(RunCondition("all", ("uaf", "uaf_partial"), ("crash",), "freed user arena"),),
    refute=(
        RunCondition("any", ("uaf", "uaf_partial"), ("pass",), None, (("read", "survived.*"),)),
    ),
    min_runs=2,
)
FREED = "fatal error: fault (accessed data from freed user arena) [SIGSEGV]"


def test_every_run_crashing_with_the_signature_confirms(tmp_path: Path) -> None:
    fixtures = {
        "uaf": runs("crash", 3, signature=FREED),
        "uaf_partial": runs("crash", 3, signature=FREED),
    }
    verdict = judge(tmp_path, UAF, [cell_doc("1.22", "arenas", fixtures)])
    assert verdict.verdict == "confirmed"
    assert any(line.startswith("uaf in arenas: go1.22: crash 3/3") for line in verdict.evidence)


def test_one_surviving_read_refutes(tmp_path: Path) -> None:
    survived = runs("pass", 3, checks={"read": "survived-stale"})
    fixtures = {"uaf": runs("crash", 3, signature=FREED), "uaf_partial": survived}
    verdict = judge(tmp_path, UAF, [cell_doc("1.22", "arenas", fixtures), cell_doc("1.22", "", {})])
    assert verdict.verdict == "refuted"
    assert "check read: survived-stale ×3" in "\n".join(verdict.evidence)


def test_no_runs_in_the_selected_cells_is_inconclusive(tmp_path: Path) -> None:
    cells = [cell_doc("1.22", "", {"uaf": "unsupported", "uaf_partial": "unsupported"})]
    verdict = judge(tmp_path, UAF, cells)
    assert verdict.verdict == "inconclusive" and "0 runs" in verdict.reason


def test_a_failed_control_makes_the_verdict_inconclusive(tmp_path: Path) -> None:
    rule = OutcomesRule(
        fixtures=("buf",),
        require=(RunCondition("any", ("control",), ("corrupt", "crash")),),
        refute=(RunCondition("all", ("buf",), ("pass",)),),
    )
    cells = [cell_doc("1.22", "", {"buf": runs("pass", 5), "control": runs("pass", 5)})]
    verdict = judge(tmp_path, rule, cells)
    assert verdict.verdict == "inconclusive" and verdict.reason.startswith("control failed")


def test_check_values_compare_by_type(tmp_path: Path) -> None:
    condition = RunCondition("all", ("f",), (), None, (("used", False), ("n", 0)))
    assert condition.run_matches(
        RunRecord.from_json(run_record(0, "pass", checks={"used": False, "n": 0}))
    )
    assert not condition.run_matches(
        RunRecord.from_json(run_record(0, "pass", checks={"used": 0, "n": 0}))
    )
    assert not condition.run_matches(
        RunRecord.from_json(run_record(0, "pass", checks={"used": False}))
    )


# --- metric ------------------------------------------------------------------------------------

PAUSES = MetricRule(
    metric="gc_pause_p99_ns",
    fixtures=("bench",),
    treatment=CellFilter(experiment="arenas"),
    baseline=CellFilter(experiment="default"),
    min_runs=5,
    min_comparisons=2,
)


def bench_runs(values: Iterable[int]) -> list[dict[str, Any]]:
    return [run_record(i, "pass", metrics={"gc_pause_p99_ns": v}) for i, v in enumerate(values)]


def test_significantly_lower_pauses_everywhere_confirm(tmp_path: Path) -> None:
    cells = []
    for go in ("1.22", "1.23"):
        cells.append(cell_doc(go, "arenas", {"bench": bench_runs(range(1000, 1006))}))
        cells.append(cell_doc(go, "", {"bench": bench_runs(range(2000, 2006))}))
    verdict = judge(tmp_path, PAUSES, cells)
    assert verdict.verdict == "confirmed"
    assert any("bench go1.22: 1µs vs 2µs (×0.50, p=0.002, n=6+6)" in e for e in verdict.evidence)


def test_indistinguishable_pauses_refute(tmp_path: Path) -> None:
    cells = []
    for go in ("1.22", "1.23"):
        cells.append(cell_doc(go, "arenas", {"bench": bench_runs([5, 7, 9, 11, 13, 15])}))
        cells.append(cell_doc(go, "", {"bench": bench_runs([6, 8, 10, 12, 14, 16])}))
    verdict = judge(tmp_path, PAUSES, cells)
    assert verdict.verdict == "refuted" and "in 0 of 2 comparisons" in verdict.reason


def test_medians_leaning_the_claimed_way_everywhere_do_not_refute(tmp_path: Path) -> None:
    """No comparison is significant, but all six medians are lower: a sign test says the data
    lean the claimed way, so the claim is not refuted."""
    cells = []
    for go in ("1.21", "1.22", "1.23", "1.24", "1.25", "1.26"):
        cells.append(cell_doc(go, "arenas", {"bench": bench_runs([10, 12, 14, 16, 18])}))
        cells.append(cell_doc(go, "", {"bench": bench_runs([11, 13, 15, 17, 19])}))
    verdict = judge(tmp_path, PAUSES, cells)
    assert verdict.verdict == "inconclusive"
    assert "median lower in 6 of 6 comparisons (sign test p=0.016)" in verdict.reason


def test_three_runs_a_side_cannot_decide(tmp_path: Path) -> None:
    cells = [
        cell_doc("1.22", "arenas", {"bench": bench_runs([1, 2, 3])}),
        cell_doc("1.22", "", {"bench": bench_runs([10, 20, 30])}),
    ]
    verdict = judge(tmp_path, PAUSES, cells)
    assert verdict.verdict == "inconclusive"
    assert any("too few runs" in e for e in verdict.evidence)


# --- first-version -----------------------------------------------------------------------------


def arena_cell(go: str, ok: bool) -> dict[str, Any]:
    if ok:
        return cell_doc(go, "arenas", {"arena_sdk": runs("pass", 2)})
    return cell_doc(go, "arenas", {"arena_sdk": "unsupported"}, build="unsupported")


@pytest.mark.parametrize(
    ("available", "verdict"),
    [
        ({"1.21": True, "1.22": True}, "refuted"),
        ({"1.21": False, "1.22": True, "1.23": True}, "confirmed"),
        ({"1.22": True, "1.23": True}, "inconclusive"),
        ({"1.21": False, "1.22": False, "1.23": True}, "refuted"),
    ],
)
def test_first_version(tmp_path: Path, available: dict[str, bool], verdict: str) -> None:
    claim = next(c for c in load_claims(CLAIMS_YAML) if c.id == "10")
    run_dir = make_run(tmp_path, [arena_cell(go, ok) for go, ok in available.items()])
    assert evaluate_claims(run_dir, [claim])[0].verdict == verdict


# --- go-api ------------------------------------------------------------------------------------

API = GoApiRule("runtime", "RegisterMemoryManager", "Pinner")


def write_api(run_dir: Path, answers: dict[str, bool]) -> None:
    checks = [
        {"go": "1.22.1", "package": "runtime", "symbol": s, "exists": e} for s, e in answers.items()
    ]
    (run_dir / "claims").mkdir()
    (run_dir / "claims" / "go_api.json").write_text(
        json.dumps({"schema": "gxm.claims.go-api/1", "checks": checks})
    )


@pytest.mark.parametrize(
    ("answers", "verdict"),
    [
        ({"RegisterMemoryManager": False, "Pinner": True}, "refuted"),
        ({"RegisterMemoryManager": True, "Pinner": True}, "confirmed"),
        ({"RegisterMemoryManager": False, "Pinner": False}, "inconclusive"),
        (None, "inconclusive"),
    ],
)
def test_go_api(tmp_path: Path, answers: dict[str, bool] | None, verdict: str) -> None:
    run_dir = make_run(tmp_path, [cell_doc("1.22", "", {})])
    if answers is not None:
        write_api(run_dir, answers)
    assert evaluate_claims(run_dir, [Claim("11", "c", API)])[0].verdict == verdict


def fake_go_cache(tmp_path: Path, version: str) -> Path:
    """A toolchain cache whose `go doc` knows runtime.Pinner and nothing else."""
    cache = tmp_path / "cache"
    go = cache / "toolchains" / f"go{version}" / "go" / "bin" / "go"
    go.parent.mkdir(parents=True)
    go.write_text(
        '#!/bin/sh\ncase "$2" in runtime.Pinner) echo "type Pinner struct"; exit 0;;\n'
        '*) echo "doc: no symbol ${2#runtime.} in package runtime" >&2; exit 1;; esac\n'
    )
    go.chmod(go.stat().st_mode | stat.S_IXUSR)
    return cache


def test_recorded_go_doc_answers_decide_the_api_claim(tmp_path: Path) -> None:
    run_dir = make_run(tmp_path, [cell_doc("1.22", "", {}, resolved="1.22.10")])
    claim = Claim("11", "c", API)
    path = record_go_api_checks(run_dir, [claim], cache=fake_go_cache(tmp_path, "1.22.10"))
    assert path == run_dir / "claims" / "go_api.json"
    verdict = evaluate_claims(run_dir, [claim])[0]
    assert verdict.verdict == "refuted"
    assert "go1.22.10: runtime.RegisterMemoryManager: no such symbol" in verdict.evidence[0]


def test_go_doc_is_asked_once_per_toolchain_and_its_answers_kept(tmp_path: Path) -> None:
    """An exact Go release's API never changes: a second run asks no `go doc` of the same
    toolchain (it cost 0.3 s of CPU beside every run's builds), a re-provisioned one is asked
    again, and a failed question is asked again."""
    cache = fake_go_cache(tmp_path, "1.22.10")
    go = cache / "toolchains" / "go1.22.10" / "go" / "bin" / "go"
    asked = tmp_path / "asked.txt"
    go.write_text(go.read_text().replace("#!/bin/sh\n", f'#!/bin/sh\necho "$2" >> {asked}\n'))
    meta = cache / "toolchains" / "go1.22.10" / "toolchain.json"
    meta.write_text('{"version": "1.22.10", "sha256": "aa"}')
    claim = Claim("11", "c", API)
    docs = []
    for n in range(3):
        if n == 2:
            meta.write_text('{"version": "1.22.10", "sha256": "bb"}')
        run_dir = make_run(tmp_path / f"r{n}", [cell_doc("1.22", "", {}, resolved="1.22.10")])
        path = record_go_api_checks(run_dir, [claim], cache=cache)
        assert path is not None
        docs.append(json.loads(path.read_text())["checks"])
        assert evaluate_claims(run_dir, [claim])[0].verdict == "refuted"
    assert asked.read_text().split() == ["runtime.Pinner", "runtime.RegisterMemoryManager"] * 2
    assert [[c.get("exists") for c in checks] for checks in docs] == [[True, False]] * 3
    assert docs[1] == docs[0] and docs[2] == docs[0]
    asked.unlink()
    go.write_text('#!/bin/sh\necho "$2" >> ' + str(asked) + '\necho "go: broken" >&2; exit 2\n')
    meta.write_text('{"version": "1.22.10", "sha256": "cc"}')
    for n in range(2):
        run_dir = make_run(tmp_path / f"e{n}", [cell_doc("1.22", "", {}, resolved="1.22.10")])
        assert record_go_api_checks(run_dir, [claim], cache=cache) is None
    assert len(asked.read_text().split()) == 4


def test_nothing_is_recorded_without_a_cached_toolchain(tmp_path: Path) -> None:
    run_dir = make_run(tmp_path, [cell_doc("1.22", "", {}, resolved="1.22.10")])
    assert record_go_api_checks(run_dir, [Claim("11", "c", API)], cache=tmp_path / "empty") is None
    assert not (run_dir / "claims").exists()


# --- the whole file on a run, and rendering ----------------------------------------------------


def test_every_shipped_claim_is_inconclusive_on_a_run_without_evidence(tmp_path: Path) -> None:
    run_dir = make_run(tmp_path, [cell_doc("1.22", "", {"gc_small_objects": runs("pass", 3)})])
    verdicts = evaluate_claims(run_dir, load_claims(CLAIMS_YAML))
    assert [v.verdict for v in verdicts] == ["inconclusive"] * 12


def test_rendered_tables_keep_versions_as_text_and_rows_whole(tmp_path: Path) -> None:
    run_dir = make_run(tmp_path, [cell_doc("1.20", "", {})])
    verdicts = evaluate_claims(
        run_dir, [Claim("1.20", "claim about go1.20 | pipes", API, note="n")]
    )
    md = format_verdicts(verdicts, "md")
    rows = [line for line in md.splitlines() if line.startswith("| 1.20")]
    assert len(rows) == 1 and "\\|" in rows[0] and "<br>" in rows[0]
    txt = format_verdicts(verdicts, "txt")
    assert "| 1.20 " in txt and "inconclusive" in txt and txt.startswith("1 claims: 0 confirmed")
    document = json.loads(format_verdicts(verdicts, "json"))
    assert document["claims"][0]["id"] == "1.20"


def test_render_claims_refuses_an_unknown_format(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="unknown claims format"):
        claims_mod.render_claims(tmp_path, "pdf")

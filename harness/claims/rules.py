"""The rules of claims.yaml: each turns what a run measured into a verdict with its evidence.

A rule reads only measurements: the run's cell documents, and the `go doc` answers
`claims.record_go_api_checks` recorded into the run. Whatever it cannot see makes the verdict
`inconclusive` with the reason; it never guesses. Five kinds, `Rule` in `spec.py`:

- `crash-rate`: failure rate of a treatment (fixtures × cells) against a baseline on the same
  Go versions, Fisher's exact test (one-sided: treatment higher). A treatment build error where
  the baseline built is "fails to load" and confirms.
- `outcomes`: conditions over runs (`all` / `any` run with an outcome, signature, check values);
  confirmed when the `confirm` conditions hold and the `refute` ones do not, and the reverse.
- `metric`: a metric of treatment cells against baseline cells of the same Go and fixture,
  Mann–Whitney U per comparison; confirmed when at least `share` of the comparisons change
  significantly in the claimed direction and none the other way.
- `first-version`: the earliest Go in the run where an experiment builds and a fixture using it
  passes, against the version the claim names.
- `go-api` (`go_api.py`): whether `go doc PKG.SYMBOL` finds a symbol, per Go version, beside a
  control symbol that must be found for the answer to count.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from harness.claims.runs import (
    CellFilter,
    FixtureRuns,
    RunCondition,
    Side,
    cells_text,
    collect,
    condition_holds,
    iter_runs,
    median_of,
    metric_text,
    not_run_text,
    outcome_counts,
    pct,
)
from harness.model import Outcome, experiment_id, go_version_key, has_extra_axes
from harness.significance import fisher_exact_p, sign_test_greater_p
from harness.stats import mann_whitney_p, metric_samples, p_text, top_signature
from harness.store import RunData
from harness.store.records import CellResult

CONFIRMED, REFUTED, INCONCLUSIVE = "confirmed", "refuted", "inconclusive"
VERDICTS = (CONFIRMED, REFUTED, INCONCLUSIVE)


@dataclass(frozen=True)
class Judgement:
    """What a rule concluded: verdict, a one-line reason, evidence lines, the cells it used."""

    verdict: str
    reason: str
    evidence: tuple[str, ...] = ()
    cells: tuple[str, ...] = ()


@dataclass(frozen=True)
class Measured:
    """Everything a rule may read: the run, and the recorded `go doc` answers (None: none)."""

    run: RunData
    go_api: tuple[Mapping[str, Any], ...] | None = None


def _cell_ids(*groups: Sequence[FixtureRuns]) -> tuple[str, ...]:
    return tuple(sorted({item.cell_id for group in groups for item in group if item.runs}))


# --- crash-rate ------------------------------------------------------------------------------


@dataclass(frozen=True)
class CrashRateRule:
    treatment: Side
    baseline: Side
    alpha: float = 0.05
    min_runs: int = 20

    def evaluate(self, measured: Measured) -> Judgement:
        treat = collect(measured.run, self.treatment.fixtures, self.treatment.cells)
        base = collect(measured.run, self.baseline.fixtures, self.baseline.cells)
        base_gos = {i.go for i in base if i.runs}
        load_failures = [
            i for i in treat if i.status == Outcome.BUILD_ERROR.value and i.go in base_gos
        ]
        gos = {i.go for i in treat if i.runs} & base_gos
        treat = [i for i in treat if i.go in gos or i in load_failures]
        base = [i for i in base if i.go in gos]
        k_t, n_t = self._count(self.treatment, treat)
        k_b, n_b = self._count(self.baseline, base)
        evidence = [
            *self._side_lines("treatment", self.treatment, treat),
            *self._side_lines("baseline", self.baseline, base),
        ]
        cells = _cell_ids(treat, base)
        if load_failures:
            where = cells_text(i.cell_id for i in load_failures)
            return Judgement(CONFIRMED, f"the treatment does not build ({where})", (), cells)
        if n_t == 0 or n_b == 0:
            reason = "no runs to compare on one side (on the same Go versions)"
            return Judgement(INCONCLUSIVE, reason, tuple(evidence), cells)
        p = fisher_exact_p([[k_t, n_t - k_t], [k_b, n_b - k_b]], alternative="greater")
        evidence.append(f"Fisher's exact test, one-sided (treatment higher): {p_text(p)}")
        rates = f"{k_t}/{n_t} vs {k_b}/{n_b} ({p_text(p)})"
        if p < self.alpha:
            reason = f"failure rate significantly higher: {rates}"
            return Judgement(CONFIRMED, reason, tuple(evidence), cells)
        if min(n_t, n_b) >= self.min_runs:
            return Judgement(REFUTED, f"no higher failure rate: {rates}", tuple(evidence), cells)
        reason = f"not significant with too few runs ({rates}; needs {self.min_runs} a side)"
        return Judgement(INCONCLUSIVE, reason, tuple(evidence), cells)

    @staticmethod
    def _count(side: Side, items: Sequence[FixtureRuns]) -> tuple[int, int]:
        runs = list(iter_runs(items))
        return sum(1 for r in runs if side.failed(r)), len(runs)

    def _side_lines(self, name: str, side: Side, items: Sequence[FixtureRuns]) -> list[str]:
        k, n = self._count(side, items)
        what = "failed" + (f" matching /{side.signature}/" if side.signature else "")
        where = cells_text(i.cell_id for i in items if i.runs)
        lines = [f"{name}: {', '.join(side.fixtures)} in {where}"]
        lines.append(f"  {what}: {pct(k, n)}")
        by_go: dict[str, list[int]] = {}
        for item in items:
            counts = by_go.setdefault(item.go, [0, 0])
            counts[0] += sum(1 for r in item.runs if side.failed(r))
            counts[1] += len(item.runs)
        if len(by_go) > 1:
            parts = [f"{go} {k}/{n}" for go, (k, n) in sorted(by_go.items(), key=_go_item)]
            lines.append(f"  by Go: {', '.join(parts)}")
        signature = top_signature(iter_runs(items))
        if signature and k:
            lines.append(f"  most common signature: {signature}")
        return lines


def _go_item(item: tuple[str, Any]) -> tuple[int, int, int]:
    return go_version_key(item[0])


# --- outcomes ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class OutcomesRule:
    fixtures: tuple[str, ...]
    cells: CellFilter = field(default_factory=CellFilter)
    confirm: tuple[RunCondition, ...] = ()
    refute: tuple[RunCondition, ...] = ()
    require: tuple[RunCondition, ...] = ()  # controls: all must hold, else inconclusive
    min_runs: int = 1
    show: tuple[str, ...] = ()  # metrics whose medians the evidence shows

    def evaluate(self, measured: Measured) -> Judgement:
        items = collect(measured.run, self.fixtures, self.cells)
        evidence = [line for name in self.fixtures for line in self._fixture_lines(name, items)]
        cells = _cell_ids(items)
        n = sum(len(i.runs) for i in items)
        if n < self.min_runs:
            names = ", ".join(self.fixtures)
            reason = f"{n} runs of {names} in the selected cells; needs {self.min_runs}"
            return Judgement(INCONCLUSIVE, reason, tuple(evidence), cells)
        for control in self.require:
            holds, text, _ = condition_holds(control, measured.run, self.cells)
            evidence.append(f"control: {text}")
            if not holds:
                return Judgement(INCONCLUSIVE, f"control failed: {text}", tuple(evidence), cells)
        confirmed = self._all_hold("confirmed if", self.confirm, measured, evidence)
        refuted = self._all_hold("refuted if", self.refute, measured, evidence)
        if confirmed and not refuted:
            return Judgement(
                CONFIRMED, _first_held(evidence, "confirmed if"), tuple(evidence), cells
            )
        if refuted and not confirmed:
            return Judgement(REFUTED, _first_held(evidence, "refuted if"), tuple(evidence), cells)
        reason = "both" if confirmed else "neither"
        reason = f"{reason} the confirming and the refuting conditions hold"
        return Judgement(INCONCLUSIVE, reason, tuple(evidence), cells)

    def _all_hold(
        self, label: str, conditions: Sequence[RunCondition], measured: Measured, out: list[str]
    ) -> bool:
        results = []
        for condition in conditions:
            holds, text, _ = condition_holds(condition, measured.run, self.cells)
            out.append(f"{label}: {text}")
            results.append(holds)
        return bool(results) and all(results)

    def _fixture_lines(self, name: str, items: Sequence[FixtureRuns]) -> list[str]:
        mine = [i for i in items if i.fixture == name]
        ran = [i for i in mine if i.runs]
        lines = [f"{name} in {cells_text(i.cell_id for i in ran)}: {outcome_counts(ran)}"]
        signature = top_signature(iter_runs(ran))
        if signature:
            lines.append(f"  most common signature: {signature}")
        for key in dict.fromkeys(k for c in (*self.confirm, *self.refute) for k, _ in c.checks):
            seen = Counter(str(r.checks.get(key, "-")) for r in iter_runs(ran))
            if seen:
                counts = ", ".join(f"{v} ×{c}" for v, c in seen.most_common())
                lines.append(f"  check {key}: {counts}")
        for metric in self.show:
            values = metric_samples(iter_runs(ran), metric)
            if values:
                shown = metric_text(metric, median_of(values))
                lines.append(f"  median {metric}: {shown} (n={len(values)} passing runs)")
        skipped = not_run_text(mine)
        return lines + ([f"  {skipped}"] if skipped else [])


def _first_held(evidence: Sequence[str], label: str) -> str:
    return next((e.removeprefix(f"{label}: ") for e in evidence if e.startswith(label)), label)


# --- metric ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MetricRule:
    metric: str
    fixtures: tuple[str, ...]
    treatment: CellFilter
    baseline: CellFilter
    direction: str = "lower"  # lower | higher: what the claim says the treatment does
    alpha: float = 0.05
    min_runs: int = 5  # per side and comparison
    share: float = 0.5
    min_comparisons: int = 3

    def evaluate(self, measured: Measured) -> Judgement:
        compared: list[_Comparison] = []
        used: list[FixtureRuns] = []
        for name in self.fixtures:
            treat = collect(measured.run, [name], self.treatment)
            base = collect(measured.run, [name], self.baseline)
            for go in sorted({i.go for i in treat} & {i.go for i in base}, key=go_version_key):
                t = [i for i in treat if i.go == go]
                b = [i for i in base if i.go == go]
                used += t + b
                compared.append(self._compare(name, go, t, b))
        valid = [c for c in compared if c.significant is not None]
        toward = sum(c.significant == 1 for c in valid)
        away = sum(c.significant == -1 for c in valid)
        summary = (
            f"{self.metric} significantly {self.direction} in {toward} of {len(valid)} "
            f"comparisons with >= {self.min_runs} runs a side, the other way in {away}"
        )
        consistent, sign_line = self._sign_test(valid)
        evidence = ([sign_line] if sign_line else []) + [c.line for c in compared]
        cells = _cell_ids(used)
        if valid and toward >= self.share * len(valid) and away == 0:
            return Judgement(CONFIRMED, summary, tuple(evidence), cells)
        if len(valid) >= self.min_comparisons and toward < self.share * len(valid):
            if not consistent:
                return Judgement(REFUTED, summary, tuple(evidence), cells)
            reason = f"{summary}, but the medians lean the claimed way ({sign_line})"
            return Judgement(INCONCLUSIVE, reason, tuple(evidence), cells)
        reason = f"{summary}; needs {self.min_comparisons} comparisons to refute"
        return Judgement(INCONCLUSIVE, reason, tuple(evidence), cells)

    def _sign_test(self, valid: Sequence[_Comparison]) -> tuple[bool, str | None]:
        """Whether the medians lean the claimed way across comparisons (one-sided sign test),
        and the evidence line saying so. A refutation needs them not to."""
        leaning = [c.median_sign for c in valid if c.median_sign]
        if not leaning:
            return False, None
        k = sum(1 for sign in leaning if sign == 1)
        p = sign_test_greater_p(k, len(leaning))
        line = (
            f"median {self.direction} in {k} of {len(leaning)} comparisons (sign test {p_text(p)})"
        )
        return p < self.alpha, line

    def _compare(
        self, name: str, go: str, treat: Sequence[FixtureRuns], base: Sequence[FixtureRuns]
    ) -> _Comparison:
        """One comparison: its evidence line, whether it is significant toward the claim (1),
        against it (-1), neither (0) or untestable (None), and which way its medians lean."""
        t = metric_samples(iter_runs(treat), self.metric)
        b = metric_samples(iter_runs(base), self.metric)
        mt, mb = median_of(t), median_of(b)
        head = f"{name} go{go}: {metric_text(self.metric, mt)} vs {metric_text(self.metric, mb)}"
        if len(t) < self.min_runs or len(b) < self.min_runs or mt is None or mb is None:
            return _Comparison(f"{head} (n={len(t)}+{len(b)}: too few runs)", None, 0)
        p = mann_whitney_p(t, b)
        ratio = f"×{mt / mb:.2f}" if mb else "×?"
        line = f"{head} ({ratio}, {p_text(p)}, n={len(t)}+{len(b)})"
        lean = 0 if mt == mb else 1 if (mt < mb) == (self.direction == "lower") else -1
        return _Comparison(line, lean if p < self.alpha else 0, lean)


@dataclass(frozen=True)
class _Comparison:
    line: str
    significant: int | None
    median_sign: int


# --- first-version -----------------------------------------------------------------------------


@dataclass(frozen=True)
class FirstVersionRule:
    experiment: str
    claimed: str
    fixtures: tuple[str, ...]

    def evaluate(self, measured: Measured) -> Judgement:
        found: dict[tuple[int, int], tuple[str, bool | None, str]] = {}
        cell_ids = []
        for doc in measured.run.results:
            cell = doc.cell
            if has_extra_axes(cell.axes):
                continue
            if experiment_id(cell.goexperiment) != self.experiment:
                continue
            version = cell.go_resolved or cell.go
            available, text = self._availability(doc)
            found[go_version_key(cell.go)[:2]] = (version, available, text)
            cell_ids.append(cell.id)
        evidence = [f"go{v}: {text}" for _, (v, _, text) in sorted(found.items())]
        cells = tuple(sorted(cell_ids))
        claimed = go_version_key(self.claimed)[:2]
        yes = sorted(k for k, (_, a, _) in found.items() if a)
        no = sorted(k for k, (_, a, _) in found.items() if a is False)
        first = f"go{found[yes[0]][0]}" if yes else None
        if yes and yes[0] < claimed:
            return Judgement(
                REFUTED, f"{self.experiment} works on {first} already", tuple(evidence), cells
            )
        if claimed in no and yes:
            return Judgement(
                REFUTED, f"not on go{self.claimed}; first on {first}", tuple(evidence), cells
            )
        if yes and yes[0] == claimed and any(k < claimed for k in no):
            reason = f"first works on go{self.claimed}; unknown to every older Go measured"
            return Judgement(CONFIRMED, reason, tuple(evidence), cells)
        reason = f"the run measured {self.experiment} on no Go older than {self.claimed}"
        if not yes:
            reason = f"the run shows {self.experiment} working on no Go version"
        return Judgement(INCONCLUSIVE, reason, tuple(evidence), cells)

    def _availability(self, doc: CellResult) -> tuple[bool | None, str]:
        build = doc.build.status
        status = doc.cell.experiment_status
        if build == Outcome.UNSUPPORTED.value:
            return False, f"GOEXPERIMENT={self.experiment} unknown (cell unsupported)"
        runs = [r for f in self.fixtures if f in doc.fixtures for r in doc.fixtures[f].runs]
        passes = sum(1 for r in runs if r.outcome is Outcome.PASS)
        names = ", ".join(self.fixtures)
        text = f"build {build}, experiment {status}, {names} pass {passes}/{len(runs)}"
        if build == "ok" and status == "active" and passes:
            return True, text
        return None, text

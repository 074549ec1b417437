"""The stored record of a `gxm bisect` (bisect.json, schema "gxm.bisect/1"): frozen dataclasses
with `to_json` / `from_json`, written and read only through `RunStore`.

The probed releases' runs are ordinary cells of the same run directory; this record holds what
only a bisect knows: the releases, what counted as bad, every probe's verdict, and the answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any


@dataclass(frozen=True)
class ProbeRecord:
    """One probed release: `role` good/bad (an end) or probe; `verdict` good/bad/skip."""

    version: str
    cell: str
    role: str
    verdict: str
    runs: int
    matching: int = 0
    outcomes: Mapping[str, int] = field(default_factory=dict)
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)} | {
            "outcomes": dict(self.outcomes)
        }

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> ProbeRecord:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in doc.items() if k in known})


@dataclass(frozen=True)
class BisectRecord:
    """bisect.json. `status`: running, complete (an answer), refused, interrupted or failed.

    `bad_rate` ({k, n, conservative_rate}), `clean_runs_for_good` and `probe_confidence` are set
    for an outcome bisect once the bad release has been sampled; `last_good`, `first_bad`,
    `untestable` and `repeat_command` once there is an answer.
    """

    status: str
    fixture: str
    good: str
    bad: str
    releases: tuple[str, ...]
    goexperiment: str = ""
    axes: tuple[tuple[str, str], ...] = ()
    criterion: Mapping[str, Any] | None = None
    policy: Mapping[str, Any] = field(default_factory=dict)
    probes: tuple[ProbeRecord, ...] = ()
    message: str | None = None
    last_good: str | None = None
    first_bad: str | None = None
    untestable: tuple[str, ...] = ()
    runs_total: int | None = None
    repeat_command: str | None = None
    bad_rate: Mapping[str, Any] | None = None
    clean_runs_for_good: int | None = None
    probe_confidence: float | None = None

    def to_json(self) -> dict[str, Any]:
        doc = {f.name: getattr(self, f.name) for f in fields(self)}
        doc["releases"] = list(self.releases)
        doc["axes"] = [list(pair) for pair in self.axes]
        doc["probes"] = [p.to_json() for p in self.probes]
        doc["untestable"] = list(self.untestable)
        return doc

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> BisectRecord:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in doc.items() if k in known}
        values["releases"] = tuple(doc.get("releases") or ())
        values["axes"] = tuple((str(a), str(b)) for a, b in doc.get("axes") or ())
        values["probes"] = tuple(ProbeRecord.from_json(p) for p in doc.get("probes") or ())
        values["untestable"] = tuple(doc.get("untestable") or ())
        return cls(**values)

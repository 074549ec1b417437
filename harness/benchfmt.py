"""Go benchmark result lines and the benchstat text format, by the format's own grammar.

The grammar (golang.org/x/perf/benchfmt, "Go benchmark data format"): a file is lines; a
configuration line is `key: value` (key a lower-case-first word without spaces); a result line is
`Benchmark<Name> <iterations> <value> <unit> [<value> <unit>]…`; a unit metadata line is
`Unit <unit> <key>=<value>…`; anything else is ignored. `parse_results_line` reads one result
line as `go test -bench` prints it (ns/op, MB/s, B/op, allocs/op and any `b.ReportMetric` unit);
`parse_file` reads a whole file back, which is how tests check the bench.txt gxm writes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

_RESULT = re.compile(r"^(?P<name>Benchmark\S*)\s+(?P<iters>\d+)\s+(?P<rest>.+)$")
_CONFIG = re.compile(r"^(?P<key>[^\sA-Z][^\s:]*): ?(?P<value>.*)$")
_UNIT = re.compile(r"^Unit\s+(?P<unit>\S+)(?P<meta>(?:\s+\S+=\S+)*)\s*$")


@dataclass(frozen=True)
class BenchResult:
    """One result line: the benchmark name as printed (with its -N GOMAXPROCS suffix), the
    iteration count and its (value, unit) pairs in printed order."""

    name: str
    iterations: int
    values: tuple[tuple[float, str], ...]

    def line(self) -> str:
        """The line again, in the tab-separated form `go test` prints."""
        pairs = "\t".join(f"{_number(value)} {unit}" for value, unit in self.values)
        return f"{self.name}\t{self.iterations}\t{pairs}"


@dataclass(frozen=True)
class BenchFile:
    """A parsed benchmark file: every result with the configuration in force at its line."""

    results: tuple[tuple[dict[str, str], BenchResult], ...]
    units: dict[str, dict[str, str]] = field(default_factory=dict)


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def parse_results_line(line: str) -> BenchResult | None:
    """A `Benchmark…` result line, or None for any other line (including a name printed alone
    before the benchmark ran, or a line whose values do not pair up with units)."""
    match = _RESULT.match(line.strip())
    if not match:
        return None
    fields = match["rest"].split()
    if not fields or len(fields) % 2:
        return None
    values: list[tuple[float, str]] = []
    for i in range(0, len(fields), 2):
        try:
            values.append((float(fields[i]), fields[i + 1]))
        except ValueError:
            return None
    return BenchResult(match["name"], int(match["iters"]), tuple(values))


def parse_output(text: str) -> list[BenchResult]:
    """Every result line of a test binary's output, in order."""
    return [r for r in (parse_results_line(line) for line in text.splitlines()) if r]


def parse_file(lines: Iterable[str]) -> BenchFile:
    """Read benchmark data by the format's rules: config lines change the configuration of the
    results after them; unit lines collect metadata; other lines are ignored."""
    config: dict[str, str] = {}
    results: list[tuple[dict[str, str], BenchResult]] = []
    units: dict[str, dict[str, str]] = {}
    for raw in lines:
        line = raw.rstrip("\n")
        result = parse_results_line(line)
        if result:
            results.append((dict(config), result))
            continue
        unit = _UNIT.match(line)
        if unit:
            meta = dict(item.split("=", 1) for item in unit["meta"].split())
            units.setdefault(unit["unit"], {}).update(meta)
            continue
        match = _CONFIG.match(line)
        if match and not line.startswith((" ", "\t")):
            if match["value"]:
                config[match["key"]] = match["value"].strip()
            else:
                config.pop(match["key"], None)
    return BenchFile(tuple(results), units)


def metric_name(benchmark: str, unit: str) -> str:
    """The run-record metric for one benchmark value: `BenchmarkX-2 ns/op`."""
    return f"{benchmark} {unit}"


def split_metric_name(metric: str) -> tuple[str, str] | None:
    """`BenchmarkX-2 ns/op` → (`BenchmarkX-2`, `ns/op`); None for other metrics."""
    if not metric.startswith("Benchmark") or " " not in metric:
        return None
    name, unit = metric.split(" ", 1)
    return name, unit


def results_metrics(results: Iterable[BenchResult]) -> dict[str, float]:
    """Run-record metrics from result lines; a benchmark printed twice (-count) keeps its last."""
    metrics: dict[str, float] = {}
    for result in results:
        for value, unit in result.values:
            metrics[metric_name(result.name, unit)] = value
    return metrics

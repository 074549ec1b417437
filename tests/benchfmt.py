"""A parser written to the Go benchmark data format rules (golang.org/design/14313-benchmark-format,
the grammar benchstat reads): configuration lines `key: value`, `Benchmark` result lines of name,
iterations and value/unit pairs, `Unit` metadata lines; everything else is ignored. Shared by the
unit and integration tests of bench.txt."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field


@dataclass
class BenchFile:
    results: list[dict] = field(default_factory=list)  # name, iters, values {unit: v}, config
    units: dict[str, dict[str, str]] = field(default_factory=dict)
    ignored: list[str] = field(default_factory=list)


def _is_space(ch: str) -> bool:
    return ch.isspace()


def _config_line(line: str) -> tuple[str, str] | None:
    """`key: value`: key begins lower case, has no space nor upper case; one or more ASCII
    spaces/tabs separate `key:` from the value (which may be omitted, colon kept)."""
    key, sep, rest = line.partition(":")
    if not sep or not key or not key[0].islower():
        return None
    if any(_is_space(c) or c.isupper() for c in key):
        return None
    if rest and rest[0] not in " \t":
        return None
    return key, rest.lstrip(" \t")


def _result_line(line: str, config: dict[str, str]) -> dict:
    """`<name> <iterations> <value> <unit> [<value> <unit>...]`, fields split on Unicode spaces,
    an even number of them and at least four; the name is `Benchmark` followed by an upper-case
    letter or nothing; iterations an integer; values floats."""
    fields = line.split()
    assert len(fields) >= 4 and len(fields) % 2 == 0, line
    name = fields[0]
    rest = name.removeprefix("Benchmark")
    assert name.startswith("Benchmark") and (not rest or unicodedata.category(rest[0]) == "Lu")
    iterations = int(fields[1])
    values = {}
    for value, unit in zip(fields[2::2], fields[3::2], strict=True):
        values[unit] = float(value)
    return {"name": name, "iters": iterations, "values": values, "config": dict(config)}


def parse_benchfmt(text: str) -> BenchFile:
    """Every line is a configuration line, a result line, a `Unit` metadata line, or ignored."""
    parsed = BenchFile()
    config: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("Benchmark"):
            parsed.results.append(_result_line(line, config))
        elif line.split(maxsplit=1)[:1] == ["Unit"]:
            _, unit, *pairs = line.split()
            assert all("=" in p and p.index("=") > 0 for p in pairs), line
            parsed.units[unit] = dict(p.split("=", 1) for p in pairs)
        elif (pair := _config_line(line)) is not None:
            key, value = pair
            if value:
                config[key] = value
            else:
                config.pop(key, None)  # an empty value removes the key
        else:
            parsed.ignored.append(line)
    return parsed

"""YAML input that remembers where every value came from, so validators can say `file:line: …`.

`load_yaml` parses with PyYAML's safe loader and returns `YMap` / `YSeq` (a dict / list that also
know the line of each key, value and item, and the source text of each scalar). Every problem with
the text itself — bad syntax, duplicate keys, an empty file, a top level that is not a mapping —
is a `MatrixError(path, line, message)`; no input makes this module raise anything else.

Mapping keys are always strings: the source text of the key. Every key in gxm's files is a name,
and YAML 1.1 would otherwise turn a fixture called `on` into `True`.

The `require_*` helpers below are the shared vocabulary of the matrix.yaml and fixtures.yaml
validators: each returns a checked value or raises a one-line `MatrixError` saying what is allowed.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import yaml

from harness.errors import MatrixError, UsageError

_MERGE_TAG = "tag:yaml.org,2002:merge"
_MAX_DEPTH = 64
_MAX_NODES = 100_000  # an alias "billion laughs" must fail fast, not eat the machine


class YMap(dict[str, Any]):
    """A mapping from a YAML file: a dict of str keys that knows the line of each key and value."""

    def __init__(self, source: str, line: int) -> None:
        super().__init__()
        self.source = source
        self.line = line
        self.key_lines: dict[str, int] = {}
        self.value_lines: dict[str, int] = {}
        self.raws: dict[str, str | None] = {}

    def key_line(self, key: str) -> int:
        return self.key_lines.get(key, self.line)

    def value_line(self, key: str) -> int:
        return self.value_lines.get(key, self.key_line(key))

    def raw(self, key: str) -> str | None:
        """The source text of a scalar value (`1.20` for what YAML reads as the float 1.2)."""
        return self.raws.get(key)

    def error(self, key: str | None, message: str, at_value: bool = False) -> MatrixError:
        """A MatrixError at `key` (its value's line with `at_value`), or at the mapping itself."""
        if key is None:
            return MatrixError(self.source, self.line, message)
        line = self.value_line(key) if at_value else self.key_line(key)
        return MatrixError(self.source, line, message)


class YSeq(list[Any]):
    """A sequence from a YAML file: a list that knows the line and source text of each item."""

    def __init__(self, source: str, line: int) -> None:
        super().__init__()
        self.source = source
        self.line = line
        self.item_lines: list[int] = []
        self.raws: list[str | None] = []

    def item_line(self, index: int) -> int:
        return self.item_lines[index] if 0 <= index < len(self.item_lines) else self.line

    def raw(self, index: int) -> str | None:
        return self.raws[index] if 0 <= index < len(self.raws) else None

    def error(self, index: int | None, message: str) -> MatrixError:
        line = self.line if index is None else self.item_line(index)
        return MatrixError(self.source, line, message)


MAX_SOURCE_BYTES = 1 << 20  # a hand-written matrix is a few KiB; 50 MB took 25 s and 550 MB


def read_source(path: Path) -> bytes:
    """The bytes of `path` (at most MAX_SOURCE_BYTES), or a MatrixError saying why not."""
    try:
        with Path(path).open("rb") as handle:
            data = handle.read(MAX_SOURCE_BYTES + 1)
        if len(data) > MAX_SOURCE_BYTES:
            raise MatrixError(path, None, f"over {MAX_SOURCE_BYTES >> 20} MiB: not a matrix file")
        return data
    except FileNotFoundError:
        raise MatrixError(path, None, "file not found") from None
    except IsADirectoryError:
        raise MatrixError(path, None, "is a directory, expected a YAML file") from None
    except OSError as exc:
        raise MatrixError(path, None, f"cannot read: {exc.strerror or exc}") from None


# libyaml's parser where PyYAML was built with it (its wheels are): the same nodes and marks in a
# tenth of the time of the pure-Python parser, which was most of gxm's start-up. A file it finds
# wrong is parsed again by the pure-Python one, whose messages say more (`character '\t' that
# cannot start any token`).
_FAST_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml(path: Path) -> YMap:
    """Parse the YAML file at `path` into a YMap (its top level must be a mapping)."""
    return parse_yaml(read_source(path), str(path))


def parse_yaml(data: bytes | str, source: str) -> YMap:
    """Parse YAML text; `source` names it in errors. The top level must be a non-empty mapping."""
    text = _decode(data, source) if isinstance(data, bytes) else data
    try:
        return _parse_with(_FAST_LOADER, text, source)
    except MatrixError:
        if _FAST_LOADER is yaml.SafeLoader:
            raise
        return _parse_with(yaml.SafeLoader, text, source)


def _parse_with(kind: type[yaml.SafeLoader], text: str, source: str) -> YMap:
    loader: yaml.SafeLoader | None = None
    try:
        loader = kind(text)
        node = loader.get_single_node()
        if node is None:
            raise MatrixError(source, 1, "the file is empty: expected `key: value` lines")
        if not isinstance(node, yaml.MappingNode):
            kind_text = _node_kind(node)
            raise MatrixError(
                source, 1, f"the top level must be `key: value` lines, not {kind_text}"
            )
        return _Builder(loader, source).mapping(node, 0)
    except yaml.YAMLError as exc:
        line, problem = _error_line(exc, text), _short_problem(exc)
        raise MatrixError(source, line, f"invalid YAML: {problem}") from None
    except RecursionError:
        raise MatrixError(source, 1, "invalid YAML: nested too deeply") from None
    finally:
        if loader is not None:
            loader.dispose()


def _decode(data: bytes, source: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise MatrixError(source, line, "not UTF-8 text") from None


def _node_kind(node: yaml.Node) -> str:
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    return f"the plain value {node.value!r}" if node.value else "an empty value"


def _error_line(exc: yaml.YAMLError, text: str) -> int:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    if mark is not None:
        return int(mark.line) + 1
    position = getattr(exc, "position", None)  # ReaderError: a character offset
    if isinstance(position, int):
        return text[:position].count("\n") + 1
    return 1


def _short_problem(exc: yaml.YAMLError) -> str:
    problem = getattr(exc, "problem", None)
    context = getattr(exc, "context", None)
    if problem:
        text = f"{context}: {problem}" if context and "while" not in context else str(problem)
    else:
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return " ".join(text.split())


class _Builder:
    """Turns a composed node tree into YMap / YSeq / plain scalars, with a depth and size budget."""

    def __init__(self, loader: yaml.SafeLoader, source: str) -> None:
        self.loader = loader
        self.source = source
        self.nodes = 0

    def build(self, node: yaml.Node, depth: int) -> Any:
        self.nodes += 1
        line = node.start_mark.line + 1
        if depth > _MAX_DEPTH:
            raise MatrixError(
                self.source, line, "invalid YAML: nested too deeply (a recursive alias?)"
            )
        if self.nodes > _MAX_NODES:
            raise MatrixError(self.source, line, "invalid YAML: too many values (alias expansion?)")
        if isinstance(node, yaml.MappingNode):
            return self.mapping(node, depth)
        if isinstance(node, yaml.SequenceNode):
            seq = YSeq(self.source, line)
            for item in node.value:
                seq.append(self.build(item, depth + 1))
                seq.item_lines.append(item.start_mark.line + 1)
                seq.raws.append(item.value if isinstance(item, yaml.ScalarNode) else None)
            return seq
        return self.loader.construct_object(node, deep=True)

    def mapping(self, node: yaml.MappingNode, depth: int) -> YMap:
        result = YMap(self.source, node.start_mark.line + 1)
        merged: list[YMap] = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                merged.extend(self._merge_sources(value_node, depth))
                continue
            key = self._key(key_node)
            if key in result:
                first = result.key_lines[key]
                raise MatrixError(
                    self.source,
                    key_node.start_mark.line + 1,
                    f"duplicate key {key!r} (first at line {first})",
                )
            result[key] = self.build(value_node, depth + 1)
            result.key_lines[key] = key_node.start_mark.line + 1
            result.value_lines[key] = value_node.start_mark.line + 1
            if isinstance(value_node, yaml.ScalarNode):
                result.raws[key] = value_node.value
        for source_map in merged:  # `<<: *base` — explicit keys win, then earlier merge sources
            for key, value in source_map.items():
                if key not in result:
                    result[key] = value
                    result.key_lines[key] = source_map.key_line(key)
                    result.value_lines[key] = source_map.value_line(key)
                    result.raws[key] = source_map.raw(key)
        return result

    def _merge_sources(self, node: yaml.Node, depth: int) -> list[YMap]:
        nodes = node.value if isinstance(node, yaml.SequenceNode) else [node]
        sources = [self.build(n, depth + 1) for n in nodes]
        if not all(isinstance(s, YMap) for s in sources):
            raise MatrixError(
                self.source,
                node.start_mark.line + 1,
                "`<<` must merge a mapping or a list of mappings",
            )
        return sources

    def _key(self, node: yaml.Node) -> str:
        if not isinstance(node, yaml.ScalarNode):
            raise MatrixError(
                self.source, node.start_mark.line + 1, "a mapping key must be a plain name"
            )
        return str(node.value)


# --- shared validation vocabulary -------------------------------------------------------------


def describe(value: Any) -> str:
    """How a YAML value reads in an error message: `a list`, `the number 1.2`, `nothing (null)`."""
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, (int, float)):
        return f"the number {_clip(repr(value))}"
    if isinstance(value, str):
        return f"the text {_clip(repr(value))}"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return f"a {type(value).__name__} value"


def _clip(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def suggest(word: str, choices: Iterable[str]) -> str:
    """` (did you mean 'x'?)` for the closest choice, or an empty string."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def check_keys(
    mapping: YMap, allowed: Sequence[str], where: str, required: Sequence[str] = ()
) -> None:
    """Reject keys outside `allowed` (naming the closest) and report missing `required` ones."""
    for key in mapping:
        if key not in allowed:
            hint = suggest(key, allowed)
            raise mapping.error(
                key, f"unknown key {key!r} in {where}{hint}; allowed: {', '.join(allowed)}"
            )
    for key in required:
        if key not in mapping:
            raise mapping.error(None, f"{where} is missing the required key {key!r}")


def require_map(mapping: YMap, key: str, where: str, *, null_ok: bool = True) -> YMap:
    """`mapping[key]` as a YMap; an absent key or an empty value (null) gives an empty one."""
    value = mapping.get(key)
    if value is None and null_ok:
        empty = YMap(mapping.source, mapping.value_line(key))
        return empty
    if not isinstance(value, YMap):
        raise mapping.error(
            key,
            f"{where} must be a mapping of `name: value` lines, got {describe(value)}",
            at_value=True,
        )
    return value


def require_seq(mapping: YMap, key: str, where: str, *, null_ok: bool = True) -> YSeq:
    """`mapping[key]` as a YSeq; an absent key or an empty value (null) gives an empty one."""
    value = mapping.get(key)
    if value is None and null_ok:
        return YSeq(mapping.source, mapping.value_line(key))
    if not isinstance(value, YSeq):
        raise mapping.error(
            key,
            f"{where} must be a list (`[a, b]` or `- a` lines), got {describe(value)}",
            at_value=True,
        )
    return value


def require_str(mapping: YMap, key: str, where: str, *, one_line: bool = True) -> str:
    """`mapping[key]` as a string; numbers, booleans and nulls are refused (quote them)."""
    value = mapping.get(key)
    if not isinstance(value, str):
        raw = mapping.raw(key)
        hint = f'; write "{raw}" in quotes' if raw and value is not None else ""
        raise mapping.error(
            key, f"{where} must be text, got {describe(value)}{hint}", at_value=True
        )
    if one_line and "\n" in value.strip():
        raise mapping.error(key, f"{where} must be one line of text", at_value=True)
    return value


def require_number(mapping: YMap, key: str, where: str) -> float:
    """`mapping[key]` as a finite number above 0."""
    value = mapping.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < math.inf:
        raise mapping.error(key, f"{where} must be a number above 0, got {describe(value)}", True)
    return float(value)


def require_int(
    mapping: YMap, key: str, where: str, *, minimum: int = 0, maximum: int | None = None
) -> int:
    """`mapping[key]` as an integer in [minimum, maximum] (booleans are not integers here)."""
    value = mapping.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise mapping.error(
            key, f"{where} must be a whole number, got {describe(value)}", at_value=True
        )
    if value < minimum:
        raise mapping.error(key, f"{where} must be at least {minimum}, got {value}", at_value=True)
    if maximum is not None and value > maximum:
        raise mapping.error(key, f"{where} must be at most {maximum}, got {value}", at_value=True)
    return value


# --- durations and sizes (also used by the CLI) ----------------------------------------------

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_SIZE = re.compile(r"^(\d+(?:\.\d+)?)\s*([A-Za-z]*)$")
_SIZE_UNITS = {
    "": 1, "b": 1, "k": 1 << 10, "kib": 1 << 10, "kb": 10**3, "m": 1 << 20, "mib": 1 << 20,
    "mb": 10**6, "g": 1 << 30, "gib": 1 << 30, "gb": 10**9,
    "t": 1 << 40, "tib": 1 << 40, "tb": 10**12,
}  # fmt: skip


def parse_duration(text: object) -> float:
    """Seconds (> 0) from `500ms`, `2s`, `1m`, `1m30s`, `1h` or a plain number of seconds.

    Raises UsageError saying what is allowed.
    """
    seconds: float | None = None
    try:
        if isinstance(text, (int, float)) and not isinstance(text, bool):
            seconds = float(text)
        elif isinstance(text, str) and re.fullmatch(r"\d+(\.\d+)?", text.strip()):
            seconds = float(text.strip())
        elif isinstance(text, str) and re.fullmatch(f"(?:{_DURATION_PART.pattern})+", text.strip()):
            parts = _DURATION_PART.findall(text.strip())
            seconds = sum(float(n) * _DURATION_UNITS[u] for n, u in parts)
    except OverflowError:
        seconds = None
    if seconds is None or not math.isfinite(seconds) or seconds <= 0:
        raise UsageError(f"bad duration {_short(text)}: write e.g. 500ms, 2s, 1m30s or seconds > 0")
    return seconds


def parse_size(text: object) -> int:
    """Bytes (>= 1) from `512MiB`, `1GiB`, `100MB` (decimal), a plain int, or `2G` / `512m`.

    A bare K/M/G/T suffix is binary, as docker reads `--memory 2g`. Raises UsageError.
    """
    size: float | None = None
    if isinstance(text, int) and not isinstance(text, bool):
        size = text
    elif isinstance(text, str) and (match := _SIZE.match(text.strip())):
        unit = _SIZE_UNITS.get(match.group(2).lower())
        size = float(match.group(1)) * unit if unit else None
    if size is None or not math.isfinite(size) or size < 1:
        raise UsageError(
            f"bad size {_short(text)}: write e.g. 512MiB, 1GiB, 2G or a number of bytes"
        )
    return int(size)


def _short(value: object) -> str:
    return _clip(repr(value), 40) if isinstance(value, (str, int, float)) else describe(value)

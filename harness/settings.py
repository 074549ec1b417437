"""Run settings from matrix.yaml: the `defaults:` blocks and the per-key include overrides.

A block parses into a `Partial` (Settings field name -> value, `env` as a dict) so that the top
level, a profile and include entries can be laid over each other key by key (`merge_settings`)
before `to_settings` makes the one `Settings` a cell's runs use. Every problem is a MatrixError
naming the file and line.
"""

from __future__ import annotations

import re
from typing import Any

from harness.errors import UsageError
from harness.model import FIXTURE_KINDS, MAX_REPEATS, Settings
from harness.yamlsrc import (
    YMap,
    check_keys,
    describe,
    parse_duration,
    parse_size,
    require_int,
    require_map,
    require_number,
    require_str,
)

DEFAULTS_KEYS = (
    "repeats", "bench_warmup", "duration", "timeout", "grace", "build_timeout",
    "memory", "build_memory", "cpus", "pids", "env", "c_backtrace", "keep_core", "log_limit",
)  # fmt: skip
MIN_LOG_LIMIT_BYTES = 64 << 10
MIN_MEMORY_BYTES = 6 << 20  # the least memory limit docker accepts
ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")
# Variables gxm sets for every run, and where to set what they carry instead. Other GXM_* names
# are fixture knobs (GXM_LIVE_HEAP_MB, GXM_FLAKY_RATE) a matrix may set.
GXM_OWN_ENV = {
    "GOEXPERIMENT": "use the goexperiment axis",
    "GXM_RESULT": "the path of the run's result file",
    "GXM_DURATION": "use `duration`",
    "GXM_SEED": "from the run's --seed",
}
_DURATION_FIELDS = {"duration": "duration_s", "timeout": "timeout_s", "grace": "grace_s"}
_DURATION_FIELDS["build_timeout"] = "build_timeout_s"
_SIZE_FIELDS = {"memory": "memory_limit_bytes", "build_memory": "build_memory_limit_bytes"}

Partial = dict[str, Any]  # Settings field name -> value; `env` as a dict


def parse_settings_block(block: YMap, where: str) -> Partial:
    """A whole `defaults:` mapping, each key checked and parsed; `where` prefixes every error."""
    check_keys(block, DEFAULTS_KEYS, where)
    partial: Partial = {}
    for key in block:
        partial = merge_settings(partial, parse_setting(block, key, where))
    return partial


def parse_setting(block: YMap, key: str, where: str) -> Partial:
    """One `defaults` key parsed into the Settings fields it sets."""
    what = f"{where}: {key}"
    try:
        if key in _DURATION_FIELDS:
            return {_DURATION_FIELDS[key]: parse_duration(block[key])}
        if key == "log_limit":
            size = parse_size(block[key])
            if size < MIN_LOG_LIMIT_BYTES:
                raise UsageError(f"{size} bytes is less than the 64KiB a log keeps at least")
            return {"log_limit_bytes": size}
        if key in _SIZE_FIELDS:
            size = parse_size(block[key])
            if size < MIN_MEMORY_BYTES:
                raise UsageError(f"{size} bytes is less than the 6MiB a container needs")
            return {_SIZE_FIELDS[key]: size}
    except UsageError as exc:
        raise block.error(key, f"{what}: {exc}", True) from None
    if key == "repeats":
        return _repeats(block, what)
    if key == "env":
        return {"env": _env(require_map(block, key, what), what)}
    if key == "cpus":
        return {"cpus": require_number(block, key, what)}
    if key == "pids":
        return {"pids_limit": require_int(block, key, what, minimum=1)}
    if key in ("c_backtrace", "keep_core"):
        return {key: _require_bool(block, key, what)}
    return {"bench_warmup": require_int(block, key, what, minimum=0)}


def _require_bool(block: YMap, key: str, what: str) -> bool:
    value = block.get(key)
    if not isinstance(value, bool):
        raise block.error(key, f"{what} must be true or false, got {describe(value)}", True)
    return value


def _repeats(block: YMap, what: str) -> Partial:
    per_kind = block["repeats"]
    if isinstance(per_kind, YMap):
        check_keys(per_kind, FIXTURE_KINDS, what)
        return {
            f"repeats_{k}": require_int(per_kind, k, f"{what}: {k}", minimum=1, maximum=MAX_REPEATS)
            for k in per_kind
        }
    if isinstance(per_kind, bool) or not isinstance(per_kind, int):
        example = ", ".join(f"{k}: 3" for k in FIXTURE_KINDS)
        raise block.error("repeats", f"{what} is a whole number or {{{example}}}", True)
    count = require_int(block, "repeats", what, minimum=1, maximum=MAX_REPEATS)
    return {f"repeats_{kind}": count for kind in FIXTURE_KINDS}


def _env(block: YMap, where: str) -> dict[str, str]:
    env: dict[str, str] = {}
    for name in block:
        if not ENV_NAME.match(name):
            raise block.error(name, f"{where}: {name!r} is not a variable name like GOGC")
        if name in GXM_OWN_ENV:
            raise block.error(name, f"{where}: gxm sets {name} itself ({GXM_OWN_ENV[name]})")
        env[name] = require_str(block, name, f"{where}: {name}")
    return env


def merge_settings(base: Partial, override: Partial) -> Partial:
    """`override` over `base`; `env` merges per variable."""
    merged = {**base, **override}
    if "env" in base and "env" in override:
        merged["env"] = {**base["env"], **override["env"]}
    return merged


def to_settings(partial: Partial) -> Settings:
    """The Settings `partial` describes; fields it does not set keep Settings' defaults."""
    fields = {k: v for k, v in partial.items() if k != "env"}
    return Settings(**fields, env=tuple(partial.get("env", {}).items()))

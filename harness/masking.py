"""Secret masking: values of secret-looking environment names never reach results or logs.

One function, `mask_secrets`, serves every place gxm writes or prints: env mappings, shell lines,
error messages, rendered reports, and (with `known` secret values) what a fixture hands back
(its result's checks, its log files). In text it masks `NAME=value` and `"NAME": "value"` for
secret-looking names, the userinfo of URLs (`https://user:TOKEN@host` → `https://***@host`), and
every occurrence of a known secret value, whatever surrounds it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, overload

_SECRET_NAME = re.compile(r"(?i)(token|secret|passw|key|credential|auth)")
MASK = "***"

_ASSIGNMENT = re.compile(r"""(?<!\w)([A-Za-z_][A-Za-z0-9_]*)=('[^']*'|"[^"]*"|\S*)""")
_JSON_PAIR = re.compile(r'"([A-Za-z_][A-Za-z0-9_]*)"(\s*:\s*)"((?:[^"\\]|\\.)*)"')
_URL_USERINFO = re.compile(r"(?<=://)[^/@\s'\"]+@")
MIN_SECRET_CHARS = 4  # shorter values would mask ordinary words and numbers


def is_secret_name(name: str) -> bool:
    """True for environment names whose values must never reach results or logs."""
    return bool(_SECRET_NAME.search(name))


def _mask_text(text: str) -> str:
    def assignment(m: re.Match[str]) -> str:
        return f"{m[1]}={MASK}" if is_secret_name(m[1]) else m[0]

    def json_pair(m: re.Match[str]) -> str:
        return f'"{m[1]}"{m[2]}"{MASK}"' if is_secret_name(m[1]) else m[0]

    text = _URL_USERINFO.sub(f"{MASK}@", text)
    return _JSON_PAIR.sub(json_pair, _ASSIGNMENT.sub(assignment, text))


def secret_values(env: Mapping[str, str]) -> tuple[str, ...]:
    """The values of an environment's secret-looking names, longest first (so a secret that
    contains another is masked whole)."""
    found = {v for k, v in env.items() if is_secret_name(k) and len(v) >= MIN_SECRET_CHARS}
    return tuple(sorted(found, key=len, reverse=True))


def _mask_known(text: str, known: Sequence[str]) -> str:
    for value in known:
        text = text.replace(value, MASK)
    return text


def mask_json(value: Any, known: Sequence[str] = ()) -> Any:
    """A JSON-like value (what a fixture wrote) with every string masked as `mask_secrets` masks
    text, plus the `known` secret values; a key with a secret-looking name has its value masked."""
    if isinstance(value, str):
        return _mask_text(_mask_known(value, known))
    if isinstance(value, Mapping):
        return {
            k: MASK
            if is_secret_name(str(k)) and not isinstance(v, (Mapping, list))
            else mask_json(v, known)
            for k, v in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [mask_json(v, known) for v in value]
    return value


def mask_file(path: Path, known: Sequence[str]) -> None:
    """Mask the `known` secret values inside a (capped) log file, in place; atomic."""
    if not known:
        return
    try:
        data = path.read_bytes()
    except OSError:
        return
    masked = data
    for value in known:
        masked = masked.replace(value.encode(), MASK.encode())
    if masked != data:
        from harness.atomic import write_bytes_atomic

        write_bytes_atomic(path, masked)


@overload
def mask_secrets(value: str) -> str: ...
@overload
def mask_secrets(value: Mapping[str, str]) -> dict[str, str]: ...
@overload
def mask_secrets(value: Sequence[tuple[str, str]]) -> tuple[tuple[str, str], ...]: ...


def mask_secrets(value: Any) -> Any:
    """Replace values of secret-looking env names (token, secret, passw, key, credential, auth).

    A mapping or a sequence of (name, value) pairs comes back as a new dict / tuple of pairs. Text
    (a shell line, an env dump, a JSON object) has `NAME=value` and `"NAME": "value"` masked.
    """
    if isinstance(value, str):
        return _mask_text(value)
    if isinstance(value, Mapping):
        return {k: MASK if is_secret_name(k) else v for k, v in value.items()}
    return tuple((k, MASK if is_secret_name(k) else v) for k, v in value)

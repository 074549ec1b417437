"""Secret masking: values of secret-looking environment names never reach results or logs."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, overload

_SECRET_NAME = re.compile(r"(?i)(token|secret|passw|key|credential|auth)")
MASK = "***"

_ASSIGNMENT = re.compile(r"""(?<!\w)([A-Za-z_][A-Za-z0-9_]*)=('[^']*'|"[^"]*"|\S*)""")
_JSON_PAIR = re.compile(r'"([A-Za-z_][A-Za-z0-9_]*)"(\s*:\s*)"((?:[^"\\]|\\.)*)"')


def is_secret_name(name: str) -> bool:
    """True for environment names whose values must never reach results or logs."""
    return bool(_SECRET_NAME.search(name))


def _mask_text(text: str) -> str:
    def assignment(m: re.Match[str]) -> str:
        return f"{m[1]}={MASK}" if is_secret_name(m[1]) else m[0]

    def json_pair(m: re.Match[str]) -> str:
        return f'"{m[1]}"{m[2]}"{MASK}"' if is_secret_name(m[1]) else m[0]

    return _JSON_PAIR.sub(json_pair, _ASSIGNMENT.sub(assignment, text))


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

"""A `file://` GOPROXY made from module source directories, as the Go proxy protocol lays it out.

`<root>/<module>/@v/list`, `<version>.info`, `<version>.mod`, `<version>.zip` (every file under
`<module>@<version>/` in the zip): what `go mod download` reads from any proxy. Tests use it to
serve a required module with no network.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

VERSION_TIME = "2026-01-01T00:00:00Z"


def _escape(module: str) -> str:
    """The proxy protocol's case encoding: every upper-case letter becomes `!` + its lower case."""
    return "".join(f"!{c.lower()}" if c.isupper() else c for c in module)


def add_module(proxy_root: Path, source: Path, module: str, version: str) -> Path:
    """Serve the module at `source` as `module@version` from `proxy_root`; return its @v dir."""
    at_v = proxy_root / _escape(module) / "@v"
    at_v.mkdir(parents=True, exist_ok=True)
    (at_v / "list").write_text(version + "\n")
    (at_v / f"{version}.info").write_text(json.dumps({"Version": version, "Time": VERSION_TIME}))
    (at_v / f"{version}.mod").write_bytes((source / "go.mod").read_bytes())
    with zipfile.ZipFile(at_v / f"{version}.zip", "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(p for p in source.rglob("*") if p.is_file()):
            archive.write(path, f"{module}@{version}/{path.relative_to(source).as_posix()}")
    return at_v


def proxy_url(proxy_root: Path) -> str:
    return Path(proxy_root).resolve().as_uri()

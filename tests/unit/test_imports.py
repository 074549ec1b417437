"""The package has no import cycles, not even ones hidden behind imports deferred into functions.

The import graph is read from the source (every `import harness…`, at module level or inside a
function; `if TYPE_CHECKING:` blocks excluded, they never run). A cycle is a design smell the
deferred import only hides: the two modules are one thing, or a third module is missing.
Then every module is imported first, on its own, in a fresh interpreter state, so an import that
only works in some order fails here.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

from gxm_process import python_c

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "harness"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imported(node: ast.AST, current: str) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
        names = [f"{node.module}.{alias.name}" for alias in node.names]
        return [n if n in MODULES else node.module for n in names]
    return []


def imports_of(name: str) -> set[str]:
    """The harness modules `name` imports (a `from pkg import sub` counts as importing sub)."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        found.update(m for m in _imported(node, name) if m in MODULES and m != name)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(MODULES[name].read_text(encoding="utf-8")))
    return found


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a path `a → b → … → a`, or None."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                return path[path.index(target) :] + [target]
            if target not in state:
                cycle = visit(target)
                if cycle:
                    return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


def test_no_import_cycles_in_the_package() -> None:
    graph = {name: imports_of(name) for name in MODULES}
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " → ".join(cycle or [])


def test_every_module_imports_first_in_a_fresh_interpreter() -> None:
    names = sorted(n for n in MODULES if n != "harness.__main__")  # that one runs gxm
    script = (
        "import importlib, sys\n"
        f"for name in {names!r}:\n"
        "    for loaded in [m for m in sys.modules if m.split('.')[0] == 'harness']:\n"
        "        del sys.modules[loaded]\n"
        "    try:\n"
        "        importlib.import_module(name)\n"
        "    except Exception as exc:\n"
        "        print(f'{name}: {type(exc).__name__}: {exc}')\n"
    )
    done = python_c(script, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout == "", done.stdout


# What the noxfile's own environment has (its `# /// script` block): nox and pyyaml, nothing else
# of gxm's dependencies. The noxfile imports these modules to generate the cell sessions.
_NOT_IN_NOX = ("psutil", "numpy", "scipy", "docker", "tabulate", "matplotlib", "rich")
_NOXFILE_IMPORTS = ("harness.matrix", "harness.model")


def test_the_noxfile_imports_need_nothing_but_pyyaml() -> None:
    """`nox` on a fresh machine (a venv with only nox) failed with `No module named 'psutil'` when
    the matrix loader pulled in the result store at import time."""
    program = (
        "import importlib.abc, sys\n"
        "class Block(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path, target=None):\n"
        f"        if name.split('.')[0] in {_NOT_IN_NOX!r}:\n"
        "            raise ImportError('not in the nox environment: ' + name)\n"
        "sys.meta_path.insert(0, Block())\n"
        f"for module in {_NOXFILE_IMPORTS!r}:\n"
        "    __import__(module)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", program], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr[-2000:]


SAMPLE_RUN = ROOT / "tests" / "data" / "runs" / "sample"
# What the plots of a run need none of: the claims, the table renderer and tabulate, the run
# machinery and the commands that make runs, the matrix's YAML, psutil, importlib.metadata.
_NOT_BEFORE_DRAWING = (
    "harness.claims",
    "harness.render",
    "tabulate",
    "harness.report.document",
    "harness.commands",
    "harness.pipeline",
    "yaml",
    "psutil",
    "importlib.metadata",
)


def test_report_write_starts_its_plots_before_the_imports_they_do_not_need(
    tmp_path: Path,
) -> None:
    """`gxm report RUN --write` spent a fifth of its time importing the claims, tabulate and the
    run machinery before the plots (the longest part) started; those are now imported while the
    plots are drawn."""
    run = tmp_path / "sample"
    shutil.copytree(SAMPLE_RUN, run)
    program = (
        "import sys\n"
        "from harness.report import drawing\n"
        "start = drawing.start\n"
        "def recording(*args, **kwargs):\n"
        "    print('LOADED ' + ' '.join(sorted(sys.modules)), file=sys.stderr, flush=True)\n"
        "    return start(*args, **kwargs)\n"
        "drawing.start = recording\n"
        "from harness import cli\n"
        f"sys.exit(cli.main(['report', {str(run)!r}, '--write']))\n"
    )
    done = python_c(program)
    assert done.returncode in (0, 1), done.stderr[-2000:]  # 1: the sample has unexpected verdicts
    lines = [line for line in done.stderr.splitlines() if line.startswith("LOADED ")]
    assert len(lines) == 1, done.stderr[-2000:]
    loaded = set(lines[0].split()[1:])
    assert "harness.report.plots" in loaded
    assert sorted(loaded & set(_NOT_BEFORE_DRAWING)) == []
    assert (run / "plots" / "overview-crash-rate.png").is_file()

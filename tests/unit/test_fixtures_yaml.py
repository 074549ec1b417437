"""fixtures.py: fixtures.yaml validation, external main-package scanning, requirements."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import MatrixError, UsageError
from harness.external import external_fixtures
from harness.fixtures import fixture_applies, load_fixtures
from harness.model import Cell, Fixture, Outcome

DATA = Path(__file__).resolve().parents[1] / "data" / "matrices"
FIXTURES = DATA / "fixtures" / "fixtures.yaml"
SDK = DATA / "sdk"


def test_loads_fixtures_in_file_order_with_their_expectations() -> None:
    fixtures = load_fixtures(FIXTURES)
    assert list(fixtures) == ["cmem_finalizer", "gc_small_objects", "arena_churn"]
    stress, bench, claim = fixtures.values()
    assert (stress.kind, bench.kind, claim.kind) == ("stress", "bench", "claim")
    assert stress.package == "./cmd/cmem_finalizer" and stress.binary_name == "cmem_finalizer"
    assert stress.module_dir == FIXTURES.parent.resolve() and not stress.external
    assert bench.expected == (("*", (Outcome.PASS,)),)  # the default when `expected` is absent
    assert claim.min_go == "1.22" and claim.requires_experiments == ("arenas",)
    assert claim.expected_outcomes("") == (Outcome.UNSUPPORTED,)
    assert claim.expected_outcomes("arenas") == (Outcome.PASS, Outcome.CRASH)
    assert claim.expected_outcomes("arenas,cgocheck2") == (Outcome.CRASH,)


def write_catalogue(tmp_path: Path, body: str) -> Path:
    (tmp_path / "cmd" / "x").mkdir(parents=True, exist_ok=True)
    path = tmp_path / "fixtures.yaml"
    path.write_text("schema: 1\nfixtures:\n" + body)
    return path


GOOD_ENTRY = "  x:\n    kind: stress\n    package: ./cmd/x\n    pattern: p\n"

BAD = {
    "unknown outcome, closest suggested": (
        GOOD_ENTRY + "    expected: {'*': passed}\n",
        7,
        "expected outcomes are pass, fail, crash, corrupt, timeout, oom, build-error, unsupported, "
        "infra-error; got the text 'passed' (did you mean 'pass'?)",
    ),
    "unknown kind": (
        "  x:\n    kind: benchmark\n    package: ./cmd/x\n    pattern: p\n",
        4,
        "kind must be stress | bench | claim",
    ),
    "missing required key": (
        "  x:\n    kind: stress\n    pattern: p\n",
        4,
        "missing the required key 'package'",
    ),
    "package directory missing": (
        "  x:\n    kind: stress\n    package: ./cmd/y\n    pattern: p\n",
        5,
        "package directory ./cmd/y does not exist",
    ),
    "package outside the module": (
        "  x:\n    kind: stress\n    package: ../x\n    pattern: p\n",
        5,
        "package must be a directory like ./cmd/x",
    ),
    "unquoted min_go": (
        GOOD_ENTRY + "    min_go: 1.20\n",
        7,
        'quotes, "1.20" (YAML reads 1.20 as the number 1.2)',
    ),
    "bad expected key": (GOOD_ENTRY + "    expected: {Arenas: pass}\n", 7, "expected keys are"),
    "unknown key, closest suggested": (
        GOOD_ENTRY + "    requirs: [arenas]\n",
        7,
        "unknown key 'requirs' in fixture 'x' (did you mean 'requires'?)",
    ),
    "requires not experiment names": (GOOD_ENTRY + "    requires: [Arenas]\n", 7, "requires lists"),
    "duplicate fixture": (GOOD_ENTRY + GOOD_ENTRY, 7, "duplicate key 'x' (first at line 3)"),
    "fixture not a mapping": ("  x: stress\n", 3, "fixture 'x' must be a mapping"),
    "no fixtures": ("", 2, "`fixtures` must be a mapping"),
}


@pytest.mark.parametrize("body,line,message", BAD.values(), ids=list(BAD))
def test_malformed_fixtures_yaml_is_one_line_with_file_and_line(
    tmp_path: Path, body: str, line: int, message: str
) -> None:
    path = write_catalogue(tmp_path, body)
    with pytest.raises(MatrixError) as info:
        load_fixtures(path)
    assert str(info.value).startswith(f"{path}:{line}: "), str(info.value)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_schema_must_be_one(tmp_path: Path) -> None:
    path = tmp_path / "fixtures.yaml"
    path.write_text("schema: '1'\nfixtures: {}\n")
    with pytest.raises(MatrixError, match=r"fixtures.yaml:1: schema must be 1, got the text '1'"):
        load_fixtures(path)


# --- external modules ---------------------------------------------------------------------------


def test_scans_main_packages_below_a_pattern_like_go_does() -> None:
    expected = (("*", (Outcome.PASS,)), ("arenas", (Outcome.CRASH,)))
    found = external_fixtures("mysdk", SDK, "./cmd/...", "bench", expected)
    # skipped: a library, a `//go:build ignore` main, testdata/, _hidden/, a nested module and a
    # directory holding only tests
    assert [f.name for f in found] == ["mysdk/a", "mysdk/b", "mysdk/b/inner"]
    assert [f.package for f in found] == ["./cmd/a", "./cmd/b", "./cmd/b/inner"]
    assert all(f.external and f.kind == "bench" and f.expected == expected for f in found)
    assert found[0].module_dir == SDK.resolve()


def test_a_single_directory_pattern_is_named_after_the_entry() -> None:
    (found,) = external_fixtures("tool", SDK, "./cmd/b", "stress")
    assert found.name == "tool" and found.package == "./cmd/b" and found.binary_name == "b"


def test_module_root_pattern(tmp_path: Path) -> None:
    (tmp_path / "go.mod").write_text("module example.com/m\n")
    (tmp_path / "main.go").write_text("/* header */ package main\nfunc main() {}\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "x.go").write_text("// comment\npackage main\n")
    found = external_fixtures("m", tmp_path, "./...", "claim", {"*": (Outcome.PASS,)})
    assert [(f.name, f.package) for f in found] == [("m", "."), ("m/sub", "./sub")]


@pytest.mark.parametrize(
    "pattern,message",
    [
        ("cmd/...", "write a directory of the module"),
        ("./cmd/*", "write a directory of the module"),
        ("./../x", "write a directory of the module"),
        ("./nope/...", "does not exist"),
        ("./cmd/lib", "matches no main package"),
        ("./cmd/onlytest", "matches no main package"),
    ],
)
def test_bad_external_patterns(pattern: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        external_fixtures("mysdk", SDK, pattern, "stress")


# --- requirements -------------------------------------------------------------------------------


def fixture(min_go: str | None = None, requires: tuple[str, ...] = ()) -> Fixture:
    return Fixture(
        "f", "claim", "p", Path("."), "./cmd/f", min_go=min_go, requires_experiments=requires
    )


def test_fixture_applies_checks_min_go() -> None:
    assert fixture_applies(fixture("1.23"), Cell("1.22")) == "needs Go >= 1.23, cell has Go 1.22"
    assert fixture_applies(fixture("1.22"), Cell("1.22")) is None
    # an unresolved "1.22" may be any patch: judged on the minor version until resolved
    assert fixture_applies(fixture("1.22.5"), Cell("1.22")) is None
    assert fixture_applies(fixture("1.22.5"), Cell("1.22"), "1.22.3") is not None
    assert fixture_applies(fixture("1.22.5"), Cell("1.22"), "1.22.10") is None
    assert fixture_applies(fixture("1.21"), Cell("1.22.1")) is None


def test_fixture_applies_checks_required_experiments() -> None:
    arenas = fixture(requires=("arenas",))
    assert (
        fixture_applies(arenas, Cell("1.22", "")) == "needs GOEXPERIMENT arenas, cell has default"
    )
    assert fixture_applies(arenas, Cell("1.22", "cgocheck2,arenas")) is None
    assert fixture_applies(fixture(), Cell("1.22", "")) is None

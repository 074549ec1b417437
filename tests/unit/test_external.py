"""external.py: the matrix's external entries: main / test / bench, go test keys, discovery."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import MatrixError
from harness.external import expansion_lines, external_fixtures, untested_packages
from harness.matrix import Matrix, load_matrix
from harness.model import ExternalSpec

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "data" / "matrices" / "fixtures" / "fixtures.yaml"
SDK = REPO / "tests" / "data" / "sdk_tests"
HEAD = f'schema: 1\ngo: ["1.22"]\nfixtures: [sdk]\nexternal:\n  sdk:\n    module: {SDK}\n'


def load(tmp_path: Path, entry: str) -> Matrix:
    path = tmp_path / "matrix.yaml"
    path.write_text(HEAD + entry)
    return load_matrix(path, None, FIXTURES)


def test_test_entry_with_every_go_test_key(tmp_path: Path) -> None:
    matrix = load(
        tmp_path,
        "    command: test\n    packages: ./...\n    run: ^TestG\n    skip: Slow\n"
        "    short: true\n    tags: [integration, cgo]\n    count: 2\n    cpu: '1,2'\n"
        "    shuffle: 'on'\n    flags: [-test.failfast]\n    timeout: 90s\n"
        "    env: {SDK_LOG: debug}\n    gctrace: false\n",
    )
    names = [f.name for f in matrix.fixtures]
    assert names == ["sdk", "sdk/arena", "sdk/cgoptr", "sdk/failing", "sdk/hang", "sdk/otheros"]
    spec = matrix.fixtures_by_name["sdk/failing"].spec
    assert spec == ExternalSpec(
        command="test", run="^TestG", skip="Slow", short=True, tags=("integration", "cgo"),
        count=2, cpu="1,2", shuffle="on", flags=("-test.failfast",), timeout_s=90.0,
        env=(("SDK_LOG", "debug"),), gctrace=False,
    )  # fmt: skip
    assert matrix.fixtures_by_name["sdk"].binary_name == "cgosdk.test"
    assert matrix.fixtures_by_name["sdk/hang"].is_test
    (entry,) = matrix.externals
    assert entry.untested == ("./util",)
    lines = expansion_lines(matrix.externals, matrix.fixtures_by_name)
    assert lines[0] == f"sdk: test ./... in {SDK}"
    assert "  no test files (skipped): ./util" in lines
    assert any(
        line.startswith("  each binary runs: -test.run=^TestG -test.skip=Slow") for line in lines
    )


def test_bench_entry_defaults_to_bench_kind(tmp_path: Path) -> None:
    matrix = load(tmp_path, "    command: bench\n    packages: .\n    benchtime: 10x\n")
    (fixture,) = matrix.fixtures
    assert fixture.kind == "bench" and fixture.spec is not None
    assert (fixture.spec.bench, fixture.spec.benchtime) == (".", "10x")


@pytest.mark.parametrize(
    ("entry", "line", "message"),
    [
        ("    command: tests\n", 7, "command must be main | test | bench, got the text 'tests'"),
        ("    run: ^TestA\n", 7, "run applies to command: test or bench"),
        ("    command: test\n    short: yes-please\n", 8, "short must be true or false"),
        ("    command: test\n    flags: [-failfast]\n", 8, "flags are test binary flags like"),
        ("    command: test\n    tags: ['a b']\n", 8, "tags lists build tags like integration"),
        ("    command: test\n    count: 0\n", 8, "count must be at least 1"),
        ("    command: test\n    timeout: soon\n", 8, "timeout:"),
        ("    command: test\n    env: {GXM_SEED: '1'}\n", 8, "is not a variable gxm lets you set"),
        ("    command: test\n    packages: ./util\n", 8, "matches no package with test files"),
        ("    bogus: 1\n", 7, "bogus"),
    ],
)
def test_bad_entries_are_one_line_with_file_and_line(
    tmp_path: Path, entry: str, line: int, message: str
) -> None:
    with pytest.raises(MatrixError) as caught:
        load(tmp_path, entry)
    text = str(caught.value)
    assert "\n" not in text and f"matrix.yaml:{line}:" in text and message in text, text


def test_discovery_without_go() -> None:
    found = external_fixtures("s", SDK, "./...", "stress", spec=ExternalSpec(command="test"))
    assert [(f.name, f.package) for f in found][:2] == [("s", "."), ("s/arena", "./arena")]
    assert untested_packages(SDK, "./...") == ("./util",)
    assert untested_packages(SDK, "./failing") == ()
    mains = external_fixtures("m", REPO / "tests" / "data" / "external_sdk", "./cmd/...", "stress")
    assert "m/corrupter" in [f.name for f in mains]

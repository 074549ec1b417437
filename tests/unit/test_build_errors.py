"""Attributing a failed `go build` / `go test -c` to the packages go blames (real go output)."""

from __future__ import annotations

from pathlib import Path

from harness.build_errors import attribute_failures, module_path, relative_package
from harness.model import Outcome

# Captured from `go build -o out/ ./cmd/ok ./cmd/ar ./cmd/bad` (Go 1.22.10 and 1.26.6) in a module
# `example.com/m` whose ./cmd/ar is `//go:build goexperiment.arenas` and ./cmd/bad does not compile.
LOAD_ERROR = (
    "package example.com/m/cmd/ar: build constraints exclude all Go files in /tmp/m/cmd/ar\n"
)
COMPILE_ERROR_122 = "# example.com/m/cmd/bad\ncmd/bad/main.go:2:14: x declared and not used\n"
COMPILE_ERROR_126 = "# example.com/m/cmd/bad\ncmd/bad/main.go:2:14: declared and not used: x\n"
# `go test -c -o out/ ./cmd/bad ./cmd/ok`, Go 1.26.6: stdout summary lines mixed in.
TEST_BUILD = (
    "# example.com/m/cmd/bad [example.com/m/cmd/bad.test]\n"
    "cmd/bad/main.go:2:14: declared and not used: x\n"
    "FAIL\texample.com/m/cmd/bad [build failed]\n"
    "?   \texample.com/m/cmd/ok\t[no test files]\n"
    "FAIL\n"
)
PACKAGES = ["./cmd/ar", "./cmd/bad", "./cmd/ok"]


def module(tmp_path: Path) -> Path:
    (tmp_path / "go.mod").write_text("module example.com/m\n\ngo 1.21\n")
    return tmp_path


def test_constraint_excluded_package_is_unsupported_with_the_cells_experiment(
    tmp_path: Path,
) -> None:
    found = attribute_failures(LOAD_ERROR, module(tmp_path), PACKAGES, "")
    assert list(found) == ["./cmd/ar"]
    assert found["./cmd/ar"].outcome is Outcome.UNSUPPORTED
    assert found["./cmd/ar"].detail == (
        "build constraints exclude all Go files in ./cmd/ar under the default GOEXPERIMENT"
    )
    in_cgocheck = attribute_failures(LOAD_ERROR, tmp_path, PACKAGES, "cgocheck2")
    assert "under GOEXPERIMENT=cgocheck2" in in_cgocheck["./cmd/ar"].detail


def test_compile_error_is_a_build_error_of_that_package_only_with_gos_message(
    tmp_path: Path,
) -> None:
    for output in (COMPILE_ERROR_122, COMPILE_ERROR_126, TEST_BUILD):
        found = attribute_failures(output, module(tmp_path), PACKAGES, "")
        assert list(found) == ["./cmd/bad"], output
        assert found["./cmd/bad"].outcome is Outcome.BUILD_ERROR
        assert "cmd/bad/main.go:2:14:" in found["./cmd/bad"].detail
        assert "FAIL" not in found["./cmd/bad"].detail


def test_output_naming_no_package_blames_none(tmp_path: Path) -> None:
    output = "go: errors parsing go.mod:\ngo.mod:3: unknown directive: bogus\n"
    assert attribute_failures(output, module(tmp_path), PACKAGES, "") == {}
    other_module = "package example.com/other/x: build constraints exclude all Go files in /x\n"
    assert attribute_failures(other_module, tmp_path, PACKAGES, "") == {}


def test_module_root_and_paths(tmp_path: Path) -> None:
    assert module_path(module(tmp_path)) == "example.com/m"
    assert relative_package("example.com/m", "example.com/m") == "."
    assert relative_package("example.com/m/a/b", "example.com/m") == "./a/b"
    assert relative_package("example.com/mm/a", "example.com/m") is None

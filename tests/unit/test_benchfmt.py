"""Benchmark result lines and the benchmark data format's grammar."""

from __future__ import annotations

from harness.benchfmt import (
    parse_file,
    parse_output,
    parse_results_line,
    results_metrics,
    split_metric_name,
)

GO_TEST_OUTPUT = """goos: linux
goarch: amd64
pkg: example.com/cgosdk
BenchmarkChecksum4K
BenchmarkChecksum4K-2        	     100	     63018 ns/op	  64.98 MB/s	         1.000 cgocalls/op	      40 B/op	       0 allocs/op
BenchmarkReverseChecksum-2   	     100	      1324 ns/op	       256.0 bytes/call	     258 B/op	       1 allocs/op
PASS
"""  # noqa: E501  (captured go test -bench output)


def test_result_lines_with_reportmetric_units() -> None:
    results = parse_output(GO_TEST_OUTPUT)
    assert [r.name for r in results] == ["BenchmarkChecksum4K-2", "BenchmarkReverseChecksum-2"]
    assert results[0].iterations == 100
    assert results[0].values == (
        (63018.0, "ns/op"), (64.98, "MB/s"), (1.0, "cgocalls/op"), (40.0, "B/op"),
        (0.0, "allocs/op"),
    )  # fmt: skip
    assert parse_results_line(results[1].line()) == results[1]
    metrics = results_metrics(results)
    assert metrics["BenchmarkReverseChecksum-2 bytes/call"] == 256.0
    assert split_metric_name("BenchmarkX-2 ns/op") == ("BenchmarkX-2", "ns/op")
    assert split_metric_name("gc_pause_p99_ns") is None


def test_lines_that_are_not_results() -> None:
    assert parse_results_line("BenchmarkChecksum4K") is None  # the name printed before it runs
    assert parse_results_line("BenchmarkX 10 5 ns/op 7") is None  # a value without a unit
    assert parse_results_line("Benchmarking is fun") is None


def test_file_grammar_config_results_and_units() -> None:
    text = [
        "# a comment is just an ignored line",
        "goversion: go1.22.10",
        "goexperiment: default",
        "Unit ns/op better=lower assume=nothing",
        "BenchmarkA-2 10 100 ns/op 3 B/op",
        "",
        "goexperiment: arenas",
        "BenchmarkA-2 10 90 ns/op",
        "Not a benchmark line",
        "goexperiment:",
        "BenchmarkA-2 10 80 ns/op",
    ]
    parsed = parse_file(text)
    configs = [(c.get("goversion"), c.get("goexperiment")) for c, _ in parsed.results]
    assert configs == [("go1.22.10", "default"), ("go1.22.10", "arenas"), ("go1.22.10", None)]
    assert [r.values[0][0] for _, r in parsed.results] == [100.0, 90.0, 80.0]
    assert parsed.units == {"ns/op": {"better": "lower", "assume": "nothing"}}

"""Tests for harness.report (and the tables it renders): crash, crash-rate and pause tables in
txt / md / mediawiki / html, json, the claims hook, secret masking, exit codes."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from gxm_process import python_c

from harness import claims, report
from harness.claims import default_claims_path, load_claims
from harness.errors import UsageError
from harness.markup import FORMATS
from harness.render import render_table
from harness.report import exit_code_for, write_reports
from harness.report.document import render
from harness.report.pauses import format_metric, format_ns, pause_table
from harness.report.tables import signature_tag
from harness.stats import summarize_runs, verdict
from harness.store import RunStore, load_run
from harness.store.bisect_record import BisectRecord, ProbeRecord
from harness.store.records import CellResult, RunDocument, RunRecord

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "tests" / "data" / "runs" / "sample"
SMOKE = ROOT / "tests" / "data" / "runs" / "smoke"
SAMPLE_CELLS = [
    "go1.22-default",
    "go1.22-arenas",
    "go1.22-greenteagc",
    "go1.26-default",
    "go1.26-arenas",
]


def _fixture(
    kind: str,
    outcomes: list[str],
    p99_ns: int = 200_000,
    signature: str | None = None,
    expected: tuple[str, ...] = ("pass",),
    step_ns: int = 1,
) -> dict:
    runs = [
        {
            "i": i,
            "outcome": o,
            "exit_code": 0 if o == "pass" else 2,
            "signal": None,
            "seconds": 2.0,
            "signature": signature if o == "crash" else None,
            "metrics": {"gc_pause_p99_ns": p99_ns + i * step_ns, "gc_cpu_fraction": 0.05}
            if o == "pass"
            else {},
            "result_status": "ok",
            "log": f"logs/x/{i}.stderr",
        }
        for i, o in enumerate(outcomes)
    ]
    return {
        "kind": kind,
        "pattern": "p",
        "expected": list(expected),
        "runs": runs,
        "summary": summarize_runs([RunRecord.from_json(r) for r in runs], kind),
        "verdict": verdict(outcomes, expected),
    }


def _make_run(
    root: Path,
    cells: dict[str, dict],
    listed: list[str] | None = None,
    build: dict[str, str] | None = None,
    env: dict[str, str] | None = None,
) -> Path:
    """A run directory with one cell document per entry of `cells` (id → fixtures)."""
    store = RunStore.create(root, "20261127T120000Z-0001")
    for cid, fixtures in cells.items():
        go, exp = cid.removeprefix("go").split("-", 1)
        store.write_cell(
            CellResult.from_json(
                {
                    "cell": {
                        "id": cid,
                        "go": go,
                        "go_resolved": f"{go}.4",
                        "goexperiment": "" if exp == "default" else exp,
                        "backend": "local",
                        "settings": {"env": env or {}},
                    },
                    "build": {"status": (build or {}).get(cid, "ok"), "seconds": 1.0},
                    "fixtures": fixtures,
                }
            )
        )
    store.write_run(
        RunDocument.from_json(
            {
                "run_id": store.run_id,
                "status": "complete",
                "backend": "local",
                "started": "2026-11-27T12:00:00Z",
                "host": {"cpus": 4},
                "matrix": {"profile": "nightly"},
                "cells": list(cells) if listed is None else listed,
            }
        )
    )
    return store.run_dir


def _pipe_tables(markdown: str) -> list[list[list[str]]]:
    """Every pipe table of a Markdown text as rows of cells (escaped `\\|` kept inside cells)."""
    tables: list[list[list[str]]] = []
    previous_was_row = False
    for line in markdown.splitlines():
        is_row = line.startswith("|") and line.endswith("|")
        if is_row:
            cells = [c.strip() for c in re.split(r"(?<!\\)\|", line[1:-1])]
            if not previous_was_row:
                tables.append([])
            tables[-1].append(cells)
        previous_was_row = is_row
    return tables


def _table(markdown: str, *first_headers: str) -> list[list[str]]:
    """The pipe table whose header starts with `first_headers`."""
    found = [t for t in _pipe_tables(markdown) if t[0][: len(first_headers)] == list(first_headers)]
    assert len(found) == 1, [t[0] for t in _pipe_tables(markdown)]
    return found[0]


# --- sample run ---------------------------------------------------------------------------------


def test_md_crash_table_is_a_pipe_table_with_a_column_per_cell() -> None:
    md = render(SAMPLE, "md")
    assert "## Crashes" in md and "## GC pauses" in md
    crash = _table(md, "fixture", "go1.22 default")
    pauses = _table(md, "fixture", "go", "experiment")
    header, separator, *rows = crash
    assert header == ["fixture"] + [c.replace("-", " ", 1) for c in SAMPLE_CELLS]
    assert all(re.fullmatch(r":?-+:?", s) for s in separator)
    assert all(len(row) == len(header) for row in crash)
    by_fixture = {row[0]: row[1:] for row in rows}
    assert by_fixture["cmem_finalizer"] == [
        "pass 3/3",
        "crash 1/3 SIGSEGV !",
        "unsupported",
        "pass 3/3",
        "pass 3/3",
    ]
    assert by_fixture["gc_small_objects"][4] == "timeout 1/3 !"
    assert all(len(row) == 10 for row in pauses)
    cells = _table(md, "cell", "go", "GOEXPERIMENT")
    assert [row[0] for row in cells[2:]] == SAMPLE_CELLS


def test_txt_report_reads_like_a_dashboard() -> None:
    txt = render(SAMPLE, "txt")
    assert "20261127T104233Z-ab12" in txt
    assert "backend local" in txt and "profile smoke" in txt and "started 2026-11-27" in txt
    assert "runs: pass 22, crash 1, timeout 1" in txt and "unexpected: 2" in txt
    assert "crash 1/3 SIGSEGV !" in txt
    assert "unsupported" in txt and "! = unexpected" in txt
    assert "logs/go1.22-arenas/cmem_finalizer.1.stderr" in txt


def test_pause_table_units_and_change_against_baseline() -> None:
    header, _, *rows = _table(render(SAMPLE, "md"), "fixture", "go", "experiment")
    assert header == [
        "fixture", "go", "experiment", "p50 pause", "p99 pause", "max pause",
        "GC CPU", "GC cycles", "peak RSS", "n",
    ]  # fmt: skip
    by_cell = {(r[1], r[2]): r for r in rows}
    assert set(by_cell) == {
        ("1.22", "default"),
        ("1.22", "arenas"),
        ("1.26", "default"),
        ("1.26", "arenas"),
    }  # the unsupported cell did not build: no row
    base, arenas = by_cell[("1.22", "default")], by_cell[("1.22", "arenas")]
    assert base[3:10] == ["32.7µs", "213µs", "746µs", "6.2%", "955", "52.7 MiB", "3"]
    assert arenas[4] == "230µs ?"  # 3 runs a side: no difference can be significant
    assert by_cell[("1.26", "arenas")][4:] == [
        "169µs ?",
        "453µs ?",
        "5.1% ?",
        "888 ?",
        "51.0 MiB ?",
        "2",
    ]


def test_json_round_trips_the_whole_run() -> None:
    document = json.loads(render(SAMPLE, "json"))
    data = load_run(SAMPLE)
    stored = [json.loads((SAMPLE / "cells" / f"{c.id}.json").read_text()) for c in data.results]
    assert document == {"run": json.loads((SAMPLE / "run.json").read_text()), "cells": stored}
    on_disk = json.loads((SAMPLE / "cells" / "go1.22-arenas.json").read_text())
    assert on_disk in document["cells"]


def test_mediawiki_uses_the_same_tables() -> None:
    wiki = render(SAMPLE, "mediawiki")
    assert "== Crashes ==" in wiki and '{| class="wikitable"' in wiki
    assert "crash 1/3 SIGSEGV !" in wiki


def test_unknown_format_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="unknown report format"):
        render(SAMPLE, "html5")


def test_sample_exit_code_is_unexpected() -> None:
    assert exit_code_for(SAMPLE) == 1


# --- hand-made runs -----------------------------------------------------------------------------


def test_version_text_stays_text_in_md(tmp_path: Path) -> None:
    bench = _fixture("bench", ["pass"] * 3)
    run_dir = _make_run(tmp_path, {"go1.20-default": {"b": bench}, "go1.20-arenas": {"b": bench}})
    md = render(run_dir, "md")
    crash, pauses = _pipe_tables(md)[:2]
    assert crash[0] == ["fixture", "go1.20 default", "go1.20 arenas"]
    assert [row[1] for row in pauses[2:]] == ["1.20", "1.20"]
    assert [row[4] for row in pauses[2:]] == ["200µs", "200µs ?"]


def test_significant_change_is_shown_with_its_evidence(tmp_path: Path) -> None:
    base = _fixture("bench", ["pass"] * 10, p99_ns=200_000, step_ns=2_000)
    slower = _fixture("bench", ["pass"] * 10, p99_ns=250_000, step_ns=2_000)
    same = _fixture("bench", ["pass"] * 10, p99_ns=201_000, step_ns=2_000)
    cells = {"go1.22-default": {"b": base}, "go1.22-arenas": {"b": slower}}
    cells["go1.22-cgocheck2"] = {"b": same}
    md = render(_make_run(tmp_path, cells), "md")
    rows = {row[2]: row for row in _pipe_tables(md)[1][2:]}
    assert rows["default"][4] == "209µs"
    assert rows["arenas"][4] == "259µs +24%"
    assert rows["cgocheck2"][4] == "210µs ~"
    assert "go1.22-arenas b gc_pause_p99_ns: 209µs → 259µs +24% (p<0.001 n=10+10)" in md
    assert "cgocheck2 b gc_pause_p99_ns" not in md


def test_spread_warnings_say_why_numbers_are_not_to_trust(tmp_path: Path) -> None:
    noisy = _fixture("bench", ["pass"] * 3, p99_ns=100_000, step_ns=60_000)
    for run in noisy["runs"]:
        run["load_avg"] = [7.5, 3.0, 1.0]
    md = render(_make_run(tmp_path, {"go1.22-default": {"b": noisy}}), "md")
    assert "### Numbers not to trust yet" in md
    line = next(li for li in md.splitlines() if li.startswith("- go1.22-default b:"))
    assert "only 3 runs (want ≥5)" in line
    assert "noisy machine: load average up to 7.5 on 4 CPUs" in line
    assert "p99 pause ±" in line


def test_a_load_average_of_gxms_own_runs_is_no_noisy_machine(tmp_path: Path) -> None:
    """Back-to-back bench runs keep the load average near the CPU count by themselves: what
    decides is the CPU the rest of the host used while each ran (`others_cpu_s`)."""
    quiet = _fixture("bench", ["pass"] * 10, p99_ns=100_000, step_ns=1_000)
    busy = _fixture("bench", ["pass"] * 10, p99_ns=100_000, step_ns=1_000)
    for n, (a, b) in enumerate(zip(quiet["runs"], busy["runs"], strict=True)):
        a["load_avg"] = b["load_avg"] = [5.8, 3.0, 1.0]
        a["seconds"] = b["seconds"] = 1.0
        a["others_cpu_s"] = 0.01
        b["others_cpu_s"] = 0.45 if n == 3 else 0.01
    md = render(_make_run(tmp_path, {"go1.22-default": {"q": quiet, "b": busy}}), "md")
    lines = [li for li in md.splitlines() if li.startswith("- go1.22-default ")]
    assert lines == [
        "- go1.22-default b: noisy machine: other processes took up to 0.45 CPUs during a run"
    ]


def test_crash_rates_with_wilson_interval_and_fisher_against_baseline(tmp_path: Path) -> None:
    cells = {
        "go1.22-default": {"s": _fixture("stress", ["pass"] * 10)},
        "go1.22-arenas": {"s": _fixture("stress", ["crash"] * 6 + ["pass"] * 4, signature="x")},
    }
    md = render(_make_run(tmp_path, cells), "md")
    rates = next(t for t in _pipe_tables(md) if t[0][0] == "fixture" and t[0][1] == "cell")
    assert rates[0] == [
        "fixture",
        "cell",
        "failed",
        "rate",
        "95% interval",
        "baseline",
        "vs baseline",
        "runs to reproduce (95%)",
    ]
    row = ["s", "go1.22-arenas", "6/10", "60%", "31%–83%", "0/10", "p=0.011", "8 runs"]
    assert rates[2:] == [row]


def test_runs_to_reproduce_are_shown_for_flaky_failures_only(tmp_path: Path) -> None:
    cells = {
        "go1.22-default": {
            "flaky": _fixture("stress", ["crash"] + ["pass"] * 9, signature="x"),
            "always": _fixture("stress", ["crash"] * 4, signature="y"),
        },
    }
    md = render(_make_run(tmp_path, cells), "md")
    rates = next(t for t in _pipe_tables(md) if t[0][0] == "fixture" and t[0][1] == "cell")
    reproduce = {row[0]: row[-1] for row in rates[2:]}
    # 1/10: the lower Wilson bound is 1.8%, and 167 runs see a 1.8% failure with 95% confidence
    assert reproduce == {"flaky": "167 runs", "always": "-"}


def test_md_escapes_pipes_in_values(tmp_path: Path) -> None:
    crashy = _fixture("stress", ["crash", "pass"], signature="panic: bad|frame")
    run_dir = _make_run(tmp_path, {"go1.22-default": {"s": crashy}})
    md = render(run_dir, "md")
    assert "crash 1/2 bad\\|frame !" in md
    crash = _pipe_tables(md)[0]
    assert all(len(row) == 2 for row in crash)


def test_na_and_not_run_cells(tmp_path: Path) -> None:
    cells = {
        "go1.22-default": {"a": _fixture("stress", ["pass"]), "b": _fixture("stress", ["pass"])},
        "go1.22-arenas": {"a": _fixture("stress", ["pass"])},
    }
    run_dir = _make_run(tmp_path, cells, listed=[*cells, "go1.26-default"])
    crash = _pipe_tables(render(run_dir, "md"))[0]
    assert crash[3] == ["b", "pass 1/1", "n/a", "not run"]
    assert exit_code_for(run_dir) == 4  # a listed cell has no result: resume it


def test_build_error_cell_is_shown_per_fixture(tmp_path: Path) -> None:
    failed = {
        "kind": "stress",
        "expected": ["pass"],
        "runs": [],
        "summary": summarize_runs([], "stress"),
        "verdict": "unexpected",
    }
    run_dir = _make_run(
        tmp_path, {"go1.22-default": {"s": failed}}, build={"go1.22-default": "build-error"}
    )
    assert "build-error !" in render(run_dir, "txt")


@pytest.mark.parametrize(
    ("outcomes", "code"),
    [(["pass", "pass"], 0), (["pass", "crash"], 1), (["pass", "infra-error"], 4)],
)
def test_exit_code_for(tmp_path: Path, outcomes: list[str], code: int) -> None:
    run_dir = _make_run(tmp_path, {"go1.22-default": {"s": _fixture("stress", outcomes)}})
    assert exit_code_for(run_dir) == code


def test_exit_code_for_empty_run(tmp_path: Path) -> None:
    assert exit_code_for(_make_run(tmp_path, {})) == 3


def test_runs_lost_to_the_engine_are_not_unexpected_and_say_how_to_resume(tmp_path: Path) -> None:
    """Runs lost to an engine failure were marked `!` ("expected pass"); now they are `?`, the
    run exits 4, and one line says what went away and the command that resumes."""
    lost = _fixture("stress", ["pass", "infra-error"])
    lost["runs"][1]["detail"] = "the docker engine went away (no answer from it: refused)"
    run_dir = _make_run(tmp_path, {"go1.22-default": {"s": lost}})
    text = render(run_dir, "txt")
    assert "infra-error 1/2 ?" in text and "1/2 !" not in text
    assert exit_code_for(run_dir) == 4
    line = report.infra_summary(load_run(run_dir)) or ""
    assert "the docker engine went away" in line
    assert f"gxm run --resume {run_dir.name} --out {tmp_path}" in line


def test_a_toolchain_that_could_not_be_had_is_not_go_none(tmp_path: Path) -> None:
    """With a missing base image the header said `go1.22 = goNone`."""
    run_dir = _make_run(tmp_path, {"go1.22-default": {"s": _fixture("stress", ["pass"])}})
    cell_file = run_dir / "cells" / "go1.22-default.json"
    doc = json.loads(cell_file.read_text())
    doc["cell"]["go_resolved"] = None
    cell_file.write_text(json.dumps(doc))
    text = render(run_dir, "txt")
    assert "goNone" not in text and "1.22 = unavailable" in text


# --- small pieces -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ns", "text"),
    [
        (850, "850ns"),
        (31_000, "31.0µs"),
        (212_400, "212µs"),
        (1_204_000, "1.20ms"),
        (3_500_000_000, "3.50s"),
        (None, "-"),
    ],
)
def test_format_ns(ns: float | None, text: str) -> None:
    assert format_ns(ns) == text


@pytest.mark.parametrize(
    ("signature", "tag"),
    [
        ("fatal error: unexpected signal during runtime execution [signal SIGSEGV: x]", "SIGSEGV"),
        ("SIGABRT: abort", "SIGABRT"),
        ("SIGSEGV: segmentation violation (signal arrived during cgo execution)", "SIGSEGV"),
        ("SIGSEGV in sdk_parse_header", "SIGSEGV in sdk_parse_header"),
        ("SIGSEGV in sdk::Frame::parse(char const*)", "SIGSEGV in sdk::Frame::parse(char const*)"),
        ("SIGBUS in " + "x" * 60, "SIGBUS in " + "x" * 37 + "…"),
        ("fatal error: cgo argument has Go pointer to unpinned Go pointer", "cgo argument has Go…"),
        ("panic: runtime error: index out of range", "index out of range"),
        (None, ""),
    ],
)
def test_signature_tag(signature: str | None, tag: str) -> None:
    assert signature_tag(signature) == tag


def test_format_metric_units() -> None:
    assert format_metric("gc_pause_p99_ns", 212_400) == "212µs"
    assert format_metric("peak_rss_bytes", 3 * 2**20) == "3.0 MiB"
    assert format_metric("gc_cpu_fraction", 0.0625) == "6.2%"
    assert format_metric("gc_cycles", 82.0) == "82" and format_metric("gc_cycles", 55.5) == "55.5"
    assert format_metric("ops", None) == "-"


# --- html, claims, masking, files ---------------------------------------------------------------


def test_html_is_a_whole_page_with_escaped_tables(tmp_path: Path) -> None:
    crashy = _fixture("stress", ["crash", "pass"], signature="panic: <bad> & worse")
    page = render(_make_run(tmp_path, {"go1.22-default": {"s": crashy}}), "html")
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert "<h2>Crashes</h2>" in page and "<table>" in page
    assert "&lt;bad&gt; &amp;" in page and "<bad>" not in page


def test_claims_section_judges_the_shipped_claims_when_asked_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GXM_CACHE", str(tmp_path / "no-toolchains"))  # no `go doc` answers
    run_dir = _make_run(tmp_path, {"go1.22-default": {"s": _fixture("stress", ["pass"])}})
    shipped = load_claims(default_claims_path())
    md = render(run_dir, "md", claims=True)
    assert f"## Claims\n\n{len(shipped)} claims: 0 confirmed, 0 refuted," in md
    assert _table(md, "#", "claim", "verdict")[2][0] == shipped[0].id  # after the :--- row
    document = json.loads(render(run_dir, "json", claims=True))
    assert [c["id"] for c in document["claims"]["claims"]] == [c.id for c in shipped]
    assert "Claims" not in render(run_dir, "md")  # off unless asked for
    assert "claims" not in json.loads(render(run_dir, "json"))


def test_write_reports_judges_the_claims_once_for_every_format(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Judging the claims took a second of CPU, and it was done again for each report file."""
    run_dir = tmp_path / "smoke"
    shutil.copytree(SMOKE, run_dir)  # its go doc answers are recorded: no Go needed
    judged: list[Path] = []
    evaluate = claims.evaluate_claims

    def counting(*args: Any, **kwargs: Any) -> list[claims.ClaimVerdict]:
        judged.append(args[0])
        return evaluate(*args, **kwargs)

    monkeypatch.setattr(claims, "evaluate_claims", counting)
    write_reports(run_dir, with_plots=False)
    assert judged == [run_dir]
    for name in ("report.txt", "report.md", "report.html"):
        assert "Claims" in (run_dir / name).read_text(encoding="utf-8")


_HEAVY = ("matplotlib", "scipy")


@pytest.mark.parametrize("extra", [[], ["--claims", "--format", "md"], ["--write"]])
def test_a_report_without_plots_to_draw_imports_neither_matplotlib_nor_scipy(
    tmp_path: Path, extra: list[str]
) -> None:
    """Importing them cost more than the rest of a report: only drawing plots may need one,
    and rewriting the reports of an unchanged run draws none (its plots are current)."""
    run_dir = tmp_path / "smoke"
    shutil.copytree(SMOKE, run_dir)
    if "--write" in extra:
        write_reports(run_dir)
    program = (
        "import contextlib, io, sys\n"
        "from harness.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()) as out:\n"
        f"    code = main(['report', {str(run_dir)!r}, *{extra!r}])\n"
        "loaded = {m.split('.')[0] for m in sys.modules}\n"
        f"print(code, len(out.getvalue()), sorted(loaded & {set(_HEAVY)!r}))\n"
    )
    done = python_c(program)
    assert done.returncode == 0, done.stderr[-2000:]
    code, size, heavy = done.stdout.split(" ", 2)
    assert code in ("0", "1") and int(size) > 1000  # a whole report was rendered
    assert heavy.strip() == "[]"


@pytest.mark.parametrize("fmt", FORMATS)
def test_secret_looking_env_values_never_reach_a_report(tmp_path: Path, fmt: str) -> None:
    bench = _fixture("bench", ["pass"] * 3)
    bench["runs"][0]["command"] = "GITHUB_TOKEN=ghp_leak1 ./fixture"
    env = {"API_TOKEN": "hunter2", "DB_PASSWORD": "pw-leak", "GOGC": "50"}
    run_dir = _make_run(tmp_path, {"go1.22-default": {"b": bench}}, env=env)
    text = render(run_dir, fmt)
    assert "hunter2" not in text and "pw-leak" not in text and "ghp_leak1" not in text
    if fmt in ("txt", "md"):
        assert "API_TOKEN=***" in text and "GOGC=50" in text


def test_render_table_serves_every_table_format() -> None:
    rows = [["1.20", "a|b"]]
    assert "1.20" in render_table(["go", "x"], rows, "txt")
    assert "a\\|b" in render_table(["go", "x"], rows, "md")
    assert "a&#124;b" in render_table(["go", "x"], rows, "mediawiki")
    assert "<td>1.20</td>" in render_table(["go", "x"], rows, "html").replace(" ", "")
    with pytest.raises(UsageError):
        render_table(["go"], [["1"]], "junit")


def test_write_reports_leaves_every_file_beside_the_run(tmp_path: Path) -> None:
    cells = {"go1.22-default": {"b": _fixture("bench", ["pass"] * 3)}}
    run_dir = _make_run(tmp_path, cells)
    written = write_reports(run_dir, with_plots=False)
    names = {p.name for p in written}
    assert names == {"report.txt", "report.md", "report.html", "bench.txt", "junit.xml"}
    assert (run_dir / "bench.txt").read_text().startswith("# gxm run")


def test_pause_table_ignores_warmup_runs(tmp_path: Path) -> None:
    bench = _fixture("bench", ["pass"] * 3)
    warm = dict(bench["runs"][0], i=-1, warmup=True)
    warm["metrics"] = {"gc_pause_p99_ns": 9_000_000}
    bench["runs"].insert(0, warm)
    bench["summary"] = summarize_runs([RunRecord.from_json(r) for r in bench["runs"]], "bench")
    data = load_run(_make_run(tmp_path, {"go1.22-default": {"b": bench}}))
    assert pause_table(data)[0][4] == "200µs" and pause_table(data)[0][-1] == "3"


@pytest.mark.parametrize("fmt", FORMATS)
def test_cli_report_prints_every_format(fmt: str, capsys: pytest.CaptureFixture[str]) -> None:
    from harness.cli import main

    assert main(["report", str(SAMPLE), "--format", fmt]) == 1  # the sample has unexpected outcomes
    out = capsys.readouterr().out
    assert out.strip() and out == render(SAMPLE, fmt)


def test_cli_help_for_the_report_commands(capsys: pytest.CaptureFixture[str]) -> None:
    from harness.cli import main

    for command in ("report", "compare", "trend", "publish"):
        with pytest.raises(SystemExit) as exc:
            main([command, "--help"])
        assert exc.value.code == 0 and "usage: gxm" in capsys.readouterr().out


def test_pause_table_leaves_out_cells_a_fixture_could_not_run_in(tmp_path: Path) -> None:
    excluded = {"kind": "bench", "expected": ["pass", "unsupported"], "status": "unsupported"}
    excluded |= {"reason": "needs arenas", "runs": [], "verdict": "expected"}
    excluded["summary"] = summarize_runs([], "bench")
    cells = {"go1.22-default": {"b": excluded}, "go1.22-arenas": {"b": _fixture("bench", ["pass"])}}
    data = load_run(_make_run(tmp_path, cells))
    assert [(row[2], row[4]) for row in pause_table(data)] == [("arenas", "200µs")]


def _with_pauses(entry: dict, counts: list[int], scale: int = 1) -> dict:
    bounds = [[4096 * scale, 5120 * scale], [3145728 * scale, 3670016 * scale]]
    for run, count in zip(entry["runs"], counts, strict=True):
        run["gc_pause_histogram"] = {"bounds_ns": bounds, "counts": [count, 1]}
    return entry


def test_pooled_pause_table_counts_pauses_and_refuses_a_p99_from_too_few(tmp_path: Path) -> None:
    cells = {
        "go1.22-default": {"b": _with_pauses(_fixture("bench", ["pass"] * 10), [40] * 10)},
        "go1.22-arenas": {"b": _with_pauses(_fixture("bench", ["pass"] * 10), [4] * 10, 2)},
    }
    text = render(_make_run(tmp_path, cells), "txt")
    assert "GC pauses pooled over runs" in text
    rows = {line.split()[2]: line for line in text.splitlines() if line.startswith("b ")}
    assert "410" in rows["default"].split() and "too few pauses" not in rows["default"]
    assert "50" in rows["arenas"].split() and "too few pauses" in rows["arenas"]


def test_a_bisect_run_reports_its_verdict_and_probes(tmp_path: Path) -> None:
    cells = {
        "go1.25.5-default": {"n": _fixture("stress", ["crash"] * 5, signature="old")},
        "go1.26.0-default": {"n": _fixture("stress", ["crash"], signature="new")},
    }
    run_dir = _make_run(tmp_path, cells)
    probes = (
        ProbeRecord("1.26.0", "go1.26.0-default", "bad", "bad", 1, 1, {"crash": 1}),
        ProbeRecord("1.25.5", "go1.25.5-default", "good", "good", 5, 0, {"crash": 5}, "clean"),
    )
    RunStore(run_dir).write_bisect(
        BisectRecord(
            status="complete",
            fixture="n",
            good="1.25.5",
            bad="1.26.0",
            releases=("1.25.5", "1.26.0"),
            criterion={"text": "crash with signature 'new'"},
            probes=probes,
            last_good="1.25.5",
            first_bad="1.26.0",
            runs_total=6,
            repeat_command="gxm bisect n --good 1.25.5 --bad 1.26.0 --seed 1",
        )
    )
    md = render(run_dir, "md")
    assert "## Bisect" in md and "- first bad release: go1.26.0 · last good: go1.25.5" in md
    probe_table = next(t for t in _pipe_tables(md) if t[0][0] == "release")
    assert probe_table[2:] == [
        ["go1.26.0", "bad", "bad", "1", "crash 1", ""],
        ["go1.25.5", "good", "good", "5", "crash 5", "clean"],
    ]
    assert json.loads(render(run_dir, "json"))["bisect"]["first_bad"] == "1.26.0"
    plain = _make_run(tmp_path / "plain", cells)
    assert "Bisect" not in render(plain, "txt") and "bisect" not in json.loads(
        render(plain, "json")
    )


def test_reports_list_and_link_the_c_backtrace_of_crashes_in_c(tmp_path: Path) -> None:
    in_c = _fixture("stress", ["crash", "crash"], signature="SIGSEGV in sdk_parse_header")
    in_c["runs"][1] |= {"c_backtrace": "logs/go1.26-default/c.1.c-backtrace.txt"}
    in_c["runs"][1] |= {"c_backtrace_tool": "gdb"}
    in_go = _fixture("stress", ["crash"], signature="panic: boom")
    cells = {"go1.26-default": {"c": in_c, "g": in_go}}
    run_dir = _make_run(tmp_path, cells)
    path = "logs/go1.26-default/c.1.c-backtrace.txt"
    md = render(run_dir, "md")
    assert "### Crashes in C" in md and "crash 2/2 SIGSEGV in sdk_parse_header" in md
    line = "- go1.26-default c run 1: SIGSEGV in sdk_parse_header — full C backtrace:"
    assert f"{line} [{path}]({path})" in md
    listed = md.split("### Crashes in C", 1)[1].split("###", 1)[0]
    assert "go1.26-default g" not in listed  # a Go crash has no C backtrace
    assert f'<a href="{path}">{path}</a></li>' in render(run_dir, "html")
    assert f"full C backtrace: {path}" in render(run_dir, "txt")
    assert f"full C backtrace: <code>{path}</code>" in render(run_dir, "mediawiki")

"""Every report format fed to the program its readers already use, installed from the package
index: junit.xml to a JUnit library (junitparser) and to the Jenkins xunit schema (xmlschema),
bench.txt to benchstat's grammar, mediawiki to a MediaWiki parser (mwparserfromhell), md to a
GitHub-flavoured Markdown renderer (cmarkgfm, cmark-gfm's own C code) and html to an HTML5 parser
(html5lib). The data is a real smoke run (tests/data/runs/smoke: go1.22 and go1.26, default and
arenas, 20 fixtures, 2 runs each, with its recorded `go doc` answers for the claims)."""

from __future__ import annotations

import re
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import html5lib
import mwparserfromhell
import pytest
import xmlschema
from benchfmt import parse_benchfmt
from junitparser import JUnitXml
from readers import MARKDOWN_ELEMENTS, gfm

from harness import report
from harness.cli import main
from harness.markup import inline
from harness.report import document, plots
from harness.report.formats import benchstat, junit
from harness.store import load_run, natural_key

DATA = Path(__file__).resolve().parents[1] / "data"
SMOKE = DATA / "runs" / "smoke"
SAMPLE = DATA / "runs" / "sample"
JUNIT_XSD = DATA / "schemas" / "junit-10.xsd"

# Text of the smoke run's claims that a renderer must show as it is.
KEPT_TEXT = ("<run>/claims/go_api.json", "godebug='(.*,)?arenas=1(,.*)?'")
TABLES_WITH_CLAIMS = 5  # crashes, crash rates, GC pauses, claims, cells


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the smoke run with one real plot, so reports have an image to link."""
    run_dir = tmp_path_factory.mktemp("consumers") / "run"
    shutil.copytree(SMOKE, run_dir)
    figure = plots.heatmap_figure(load_run(run_dir), "arena_uaf")
    plots.save_png(figure, run_dir / report.PLOTS_DIR / f"{plots.HEATMAP_PREFIX}arena_uaf.png")
    return run_dir


def _first_values(results: list[dict], key: str) -> str:
    return next(r["config"][key] for r in results if key in r["config"])


# --- bench.txt: benchstat's grammar ------------------------------------------------------------


@pytest.mark.parametrize("run", [SMOKE, SAMPLE], ids=["smoke", "sample"])
def test_bench_txt_names_the_baseline_first_for_every_key(run: Path) -> None:
    """benchstat orders a key's values by first appearance and compares against the first: the
    default experiment and the lowest Go must come first, in the whole file and per benchmark."""
    parsed = parse_benchfmt(benchstat(load_run(run)))
    groups = {"(all)": parsed.results}
    for result in parsed.results:
        groups.setdefault(result["name"], []).append(result)
    assert len(groups) > 1
    for name, results in groups.items():
        experiments = {r["config"]["goexperiment"] for r in results}
        versions = sorted({r["config"]["goversion"] for r in results}, key=natural_key)
        first_experiment = "default" if "default" in experiments else min(experiments)
        assert _first_values(results, "goexperiment") == first_experiment, name
        assert _first_values(results, "goversion") == versions[0], name


def test_every_unit_on_a_benchmark_line_is_declared() -> None:
    parsed = parse_benchfmt(benchstat(load_run(SMOKE)))
    used = {unit for result in parsed.results for unit in result["values"]}
    assert "alloc-bytes" in used and "gc-pause-p99-ns" in used
    undeclared = sorted(u for u in used if parsed.units.get(u, {}).get("better") is None)
    assert undeclared == []
    assert {parsed.units[u]["better"] for u in used} == {"higher", "lower"}


# --- junit.xml: the Jenkins xunit schema and a JUnit library ----------------------------------


@pytest.mark.parametrize("run", [SMOKE, SAMPLE], ids=["smoke", "sample"])
def test_junit_is_valid_against_the_jenkins_xunit_schema(run: Path) -> None:
    schema = xmlschema.XMLSchema(str(JUNIT_XSD))
    schema.validate(ET.fromstring(junit(load_run(run))))  # raises, saying what is not allowed


def test_a_junit_library_reads_expected_crashes_as_passes_showing_their_signature() -> None:
    xml = JUnitXml.fromstring(junit(load_run(SMOKE)))
    cases = {(suite.name, case.name): case for suite in xml for case in suite}
    assert len(cases) == 4 * 20
    crash = cases[("go1.22-arenas", "arena_uaf")]
    assert crash.is_passed and not crash.is_skipped
    assert "fatal error: fault (accessed data from freed user arena) [SIGSEGV]" in (
        crash.system_out or ""
    )
    assert "crash 2/2" in (crash.system_out or "")
    corrupt = cases[("go1.26-default", "cmem_no_keepalive")]
    assert corrupt.is_passed and "gxm: corrupt: handle N" in (corrupt.system_out or "")
    clean = cases[("go1.22-arenas", "arena_sdk")]
    assert clean.is_passed and clean.system_out is None
    assert cases[("go1.22-default", "arena_uaf")].is_skipped  # needs arenas: not run here
    assert not any(c.is_passed is False and not c.is_skipped for c in cases.values())


def test_a_junit_library_reads_unexpected_outcomes_as_failures() -> None:
    xml = JUnitXml.fromstring(junit(load_run(SAMPLE)))
    failed = sorted(
        (suite.name, case.name)
        for suite in xml
        for case in suite
        if not case.is_passed and not case.is_skipped
    )
    assert failed == [("go1.22-arenas", "cmem_finalizer"), ("go1.26-arenas", "gc_small_objects")]
    assert xml.tests == 10 and xml.failures == 2


# --- mediawiki: mwparserfromhell ---------------------------------------------------------------


def _wiki_rows(table: mwparserfromhell.nodes.Tag) -> list[list[str]]:
    rows = [node for node in table.contents.nodes if str(getattr(node, "tag", "")) == "tr"]
    cells = [row.contents.filter_tags(recursive=False) for row in rows]
    return [
        [str(c.contents.strip_code()).strip() for c in row if c.tag in ("th", "td")]
        for row in cells
    ]


def test_mediawiki_is_wiki_tables_with_no_markdown_and_no_empty_caption(smoke_run: Path) -> None:
    text = document.render_data(load_run(smoke_run), "mediawiki", claims=True)
    wikicode = mwparserfromhell.parse(text)
    tags = wikicode.filter_tags()
    tables = [tag for tag in tags if tag.tag == "table"]
    assert len(tables) == TABLES_WITH_CLAIMS
    for table in tables:
        rows = _wiki_rows(table)
        assert len(rows) > 1 and all(len(row) == len(rows[0]) for row in rows), rows[0]
    for table in tables:  # mwparserfromhell reads a `|+` caption as a cell outside any row
        children = {str(getattr(node, "tag", "")) for node in table.contents.nodes}
        assert children <= {"tr", ""}, str(table)[:80]
    assert "`" not in text  # Markdown code spans are literal backticks on a wiki
    code = {str(tag.contents.strip_code()) for tag in tags if tag.tag == "code"}
    assert {"~", "+12%", "go doc runtime.RegisterMemoryManager"} <= code
    shown = wikicode.strip_code()
    assert all(kept in shown for kept in KEPT_TEXT)


# --- md: GitHub-flavoured Markdown (cmark-gfm) -------------------------------------------------


def _assert_tables(root: ET.Element, count: int) -> None:
    tables = root.findall(".//table")
    assert len(tables) == count
    for table in tables:
        widths = [len(row.findall("./th") + row.findall("./td")) for row in table.iter("tr")]
        assert len(widths) > 1 and len(set(widths)) == 1, widths


def _assert_images_resolve(root: ET.Element, base: Path) -> None:
    sources = [img.get("src") or "" for img in root.iter("img")]
    assert sources
    assert all((base / src).is_file() for src in sources), sources


def test_markdown_renders_every_table_and_drops_no_text(smoke_run: Path) -> None:
    markdown = document.render_data(load_run(smoke_run), "md", claims=True)
    root = gfm(markdown)
    elements = {element.tag for element in root.iter()}
    assert elements <= MARKDOWN_ELEMENTS, elements - MARKDOWN_ELEMENTS
    _assert_tables(root, TABLES_WITH_CLAIMS)
    shown = "".join(root.itertext())
    assert all(kept in shown for kept in KEPT_TEXT)
    assert "`" not in shown
    code = {element.text for element in root.iter("code")}
    assert {"~", "+12%", "go doc runtime.RegisterMemoryManager"} <= code


@pytest.mark.parametrize("fmt", ["md", "html"])
def test_report_written_elsewhere_links_its_images_from_there(
    smoke_run: Path, tmp_path: Path, fmt: str
) -> None:
    out = tmp_path / "site" / "pages" / f"report.{fmt}"
    assert main(["report", str(smoke_run), "--format", fmt, "--output", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    root = gfm(text) if fmt == "md" else html5lib.parse(text, namespaceHTMLElements=False)
    _assert_images_resolve(root, out.parent)
    assert "/" + str(smoke_run).lstrip("/") not in text  # relative links, not absolute paths


@pytest.mark.parametrize("fmt", ["md", "html"])
def test_report_links_its_images_under_an_assets_url(
    smoke_run: Path, fmt: str, capsys: pytest.CaptureFixture[str]
) -> None:
    url = "https://ci.example.test/runs/1/plots/"
    assert main(["report", str(smoke_run), "--format", fmt, "--assets-url", url]) == 0
    text = capsys.readouterr().out
    root = gfm(text) if fmt == "md" else html5lib.parse(text, namespaceHTMLElements=False)
    sources = [img.get("src") for img in root.iter("img")]
    assert sources == [f"{url}{plots.HEATMAP_PREFIX}arena_uaf.png"]


def test_assets_url_is_refused_for_formats_without_images(
    smoke_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["report", str(smoke_run), "--format", "junit", "--assets-url", "https://x.test/"])
    assert code == 2
    assert "--assets-url" in capsys.readouterr().err


# --- html: html5lib ---------------------------------------------------------------------------


def test_html_is_strict_html5_with_code_not_backticks(smoke_run: Path) -> None:
    text = document.render_data(load_run(smoke_run), "html", claims=True)
    parser = html5lib.HTMLParser(strict=True, namespaceHTMLElements=False)
    root = parser.parse(text)  # strict: any parse error raises
    _assert_tables(root, TABLES_WITH_CLAIMS)
    _assert_images_resolve(root, smoke_run)
    shown = "".join(root.find("body").itertext())
    assert "`" not in shown
    assert all(kept in shown for kept in KEPT_TEXT)
    code = {element.text for element in root.iter("code")}
    assert {"~", "+12%", "go doc runtime.RegisterMemoryManager"} <= code


def test_html_cells_may_wrap_so_wide_tables_fit_the_page(smoke_run: Path) -> None:
    """No style keeps every cell on one line (the claims table was 3,500 px wide in a 1,400 px
    window); the browser check of the real page is tests/integration/test_report_browser.py."""
    text = document.render_data(load_run(smoke_run), "html", claims=True)
    root = html5lib.parse(text, namespaceHTMLElements=False)
    css = " ".join(style.text or "" for style in root.iter("style"))
    for selectors, body in re.findall(r"([^{}]+)\{([^}]*)\}", css):
        cells = {s.strip() for s in selectors.split(",")} & {"td", "th", "th, td", "table td"}
        assert not (cells and re.search(r"white-space:\s*nowrap", body)), (selectors, body)


# --- inline text: what every format's reader shows ---------------------------------------------

TRICKY_TEXT = [
    "recorded in <run>/claims/go_api.json",
    "signature='(.*,)?arenas=1(,.*)?' and *stars* and _under_ and gc_small_objects",
    "a [link](http://x.test) | pipe ~~struck~~ a~b &amp; {{template}} [[Page]] ''quoted''",
    "p<0.05 > 3",
]


@pytest.mark.parametrize("text", TRICKY_TEXT)
def test_text_outside_code_spans_reads_as_written_in_every_format(text: str) -> None:
    markdown_root = gfm(inline(f"{text} `go doc <x>`", "md"))
    assert "".join(markdown_root.itertext()).strip() == f"{text} go doc <x>"
    assert {e.tag for e in markdown_root.iter()} <= {"html", "head", "body", "p", "code", "a"}
    wiki = mwparserfromhell.parse(inline(f"{text} `go doc <x>`", "mediawiki"))
    assert [str(t.tag) for t in wiki.filter_tags()] == ["code"]
    assert wiki.filter_wikilinks() == [] and wiki.filter_templates() == []
    assert wiki.strip_code().strip() == f"{text} go doc <x>"
    page = html5lib.parse(
        f"<p>{inline(text + ' `go doc <x>`', 'html')}</p>", namespaceHTMLElements=False
    )
    assert "".join(page.find("body").itertext()) == f"{text} go doc <x>"
    assert inline(f"{text} `go doc <x>`", "txt") == f"{text} go doc <x>"

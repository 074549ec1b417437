"""Tests for harness.publish with real git in temporary directories: a local bare repository as
the wiki remote. Pages land, links resolve, images are there, republishing makes no commit, and no
secret reaches a page."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from readers import MARKDOWN_ELEMENTS, gfm

from harness.errors import UsageError
from harness.report import publish

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "runs" / "sample"
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
IDENTITY = ["-c", "user.name=gxm tests", "-c", "user.email=tests@gxm.invalid"]


def git(*args: str, cwd: Path | None = None) -> str:
    proc = subprocess.run(
        ["git", *IDENTITY, *args], cwd=cwd, capture_output=True, text=True, check=True
    )
    return proc.stdout.strip()


@pytest.fixture
def bare_wiki(tmp_path: Path) -> Path:
    path = tmp_path / "project.wiki.git"
    git("init", "--quiet", "--bare", str(path))
    return path


@pytest.fixture(scope="module")
def plotted_sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample run with its plots drawn once (drawing is the slow part of publishing)."""
    from harness.report import plots
    from harness.store import load_run

    run_dir = tmp_path_factory.mktemp("sample") / "sample"
    shutil.copytree(SAMPLE, run_dir)
    plots.write_plots(load_run(run_dir), run_dir / "plots")
    return run_dir


def sample_run(source: Path, root: Path, run_id: str, secret: str | None = None) -> Path:
    """A copy of `source` (the plotted sample) under `root/<run_id>`, run.json naming that id."""
    run_dir = root / run_id
    shutil.copytree(source, run_dir)
    run = json.loads((run_dir / "run.json").read_text())
    run["run_id"] = run_id
    (run_dir / "run.json").write_text(json.dumps(run))
    if secret is not None:
        path = run_dir / "cells" / "go1.22-default.json"
        doc = json.loads(path.read_text())
        doc["cell"]["settings"] = {"env": {"GOGC": "100", "WIKI_TOKEN": secret}}
        doc["fixtures"]["gc_small_objects"]["runs"][0]["command"] = f"WIKI_TOKEN={secret} ./x"
        path.write_text(json.dumps(doc))
    return run_dir


def commits(repo: Path) -> list[str]:
    return git("--git-dir", str(repo), "log", "--format=%s", "--all").splitlines()


def clone(repo: Path, into: Path) -> Path:
    git("clone", "--quiet", str(repo), str(into))
    return into


def check_links(checkout: Path) -> int:
    """Follow every link of every page: a page link names an existing page (no `.md`), an image
    link an existing file. Returns how many links were followed."""
    followed = 0
    for page in checkout.glob("*.md"):
        for target in LINK.findall(page.read_text()):
            assert not target.endswith(".md"), (page.name, target)
            if target.endswith(".png"):
                assert (checkout / target).is_file(), (page.name, target)
            else:
                assert (checkout / f"{target}.md").is_file(), (page.name, target)
            followed += 1
    return followed


def test_publish_to_a_bare_repository(
    tmp_path: Path, bare_wiki: Path, plotted_sample: Path
) -> None:
    run_dir = sample_run(
        plotted_sample, tmp_path / "results", "20261127T104233Z-ab12", secret="s3cr3t-v4lue"
    )
    result = publish.publish(run_dir, str(bare_wiki), cache=tmp_path / "cache")
    assert result.commit and result.pushed
    assert commits(bare_wiki) == ["gxm: publish run 20261127T104233Z-ab12"]
    wiki = clone(bare_wiki, tmp_path / "view")
    pages = {p.stem for p in wiki.glob("*.md")}
    assert pages == {"Home", "Run-20261127T104233Z-ab12", "Trends", "_Sidebar"}
    home = (wiki / "Home.md").read_text()
    assert "[20261127T104233Z-ab12](Run-20261127T104233Z-ab12)" in home
    assert "### Crashes" in home and "### GC pauses" in home and "## Plots" in home
    images = sorted(p.name for p in (wiki / "images" / "20261127T104233Z-ab12").glob("*.png"))
    assert images == [
        "crash-rate-cmem_finalizer.png",
        "crash-rate-gc_small_objects.png",
        "overview-crash-rate.png",
        "pauses-gc_small_objects.png",
    ]
    assert list((wiki / "images" / "trends").glob("trend-gc_small_objects-*.png"))
    assert check_links(wiki) > 10
    for page in ("Home.md", "Run-20261127T104233Z-ab12.md"):  # as GitHub shows the wiki
        root = gfm((wiki / page).read_text())
        assert {e.tag for e in root.iter()} <= MARKDOWN_ELEMENTS, page
        assert "recorded in <run>/claims/go_api.json" in "".join(root.itertext()), page
    leaked = [p for p in wiki.rglob("*") if p.is_file() and b"s3cr3t-v4lue" in p.read_bytes()]
    assert leaked == []
    assert "WIKI_TOKEN=***" in (wiki / "Run-20261127T104233Z-ab12.md").read_text()


def test_republishing_the_same_run_makes_no_commit(
    tmp_path: Path, bare_wiki: Path, plotted_sample: Path
) -> None:
    run_dir = sample_run(plotted_sample, tmp_path / "results", "20261127T104233Z-ab12")
    publish.publish(run_dir, str(bare_wiki), cache=tmp_path / "cache")
    again = publish.publish(run_dir, str(bare_wiki), cache=tmp_path / "cache")
    assert again.commit is None and not again.pushed
    fresh = publish.publish(run_dir, str(bare_wiki), cache=tmp_path / "other-cache")
    assert fresh.commit is None  # a fresh clone renders the very same bytes
    assert len(commits(bare_wiki)) == 1


def test_home_follows_the_newest_run_and_the_sidebar_lists_all(
    tmp_path: Path, bare_wiki: Path, plotted_sample: Path
) -> None:
    older = sample_run(plotted_sample, tmp_path / "results", "20261127T104233Z-ab12")
    newer = sample_run(plotted_sample, tmp_path / "results", "20261128T104233Z-cd34")
    cache = tmp_path / "cache"
    publish.publish(newer, str(bare_wiki), cache=cache)
    publish.publish(older, str(bare_wiki), cache=cache)
    wiki = clone(bare_wiki, tmp_path / "view")
    assert "Latest published run: [20261128T104233Z-cd34]" in (wiki / "Home.md").read_text()
    sidebar = (wiki / "_Sidebar.md").read_text()
    assert sidebar.index("Run-20261128T104233Z-cd34") < sidebar.index("Run-20261127T104233Z-ab12")
    trends = (wiki / "Trends.md").read_text()
    assert "| 20261127T104233Z-ab12 |" in trends and "| 20261128T104233Z-cd34 |" in trends
    assert commits(bare_wiki) == [
        "gxm: publish run 20261127T104233Z-ab12",
        "gxm: publish run 20261128T104233Z-cd34",
    ]
    check_links(wiki)


def test_publish_into_a_local_checkout_without_remote(tmp_path: Path, plotted_sample: Path) -> None:
    checkout = tmp_path / "wiki"
    git("init", "--quiet", str(checkout))
    run_dir = sample_run(plotted_sample, tmp_path / "results", "20261127T104233Z-ab12")
    result = publish.publish(run_dir, str(checkout))
    assert result.checkout == checkout and result.commit and not result.pushed
    assert git("log", "--format=%s", cwd=checkout) == "gxm: publish run 20261127T104233Z-ab12"
    assert git("status", "--porcelain", cwd=checkout) == ""


def test_a_wiki_that_is_neither_checkout_nor_repository_is_a_usage_error(
    tmp_path: Path, plotted_sample: Path
) -> None:
    run_dir = sample_run(plotted_sample, tmp_path / "results", "20261127T104233Z-ab12")
    (tmp_path / "plain").mkdir()
    with pytest.raises(UsageError, match="neither a git checkout"):
        publish.publish(run_dir, str(tmp_path / "plain"), cache=tmp_path / "cache")


def test_checkout_for_urls_uses_the_cache(tmp_path: Path) -> None:
    path, owned = publish.checkout_for("https://github.com/o/r.wiki.git", tmp_path)
    assert owned and path.parent == tmp_path / "wiki"
    assert publish.checkout_for("git@github.com:o/r.wiki.git", tmp_path)[0] != path


def test_cli_publish(
    tmp_path: Path, bare_wiki: Path, plotted_sample: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from harness.cli import main

    results = tmp_path / "results"
    sample_run(plotted_sample, results, "20261127T104233Z-ab12")
    args = ["publish", "latest", "--out", str(results), "--wiki", str(bare_wiki)]
    args += ["--cache", str(tmp_path / "cache")]
    assert main(args) == 0
    assert "committed" in capsys.readouterr().err
    assert main(args) == 0
    assert "no change, nothing committed" in capsys.readouterr().err
    assert main(["publish", "latest", "--out", str(results)]) == 2  # --wiki is required

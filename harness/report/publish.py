"""Publish a run to a GitHub wiki: a git repository of Markdown pages (`<repo>.wiki.git`).

`publish` clones (or updates) a checkout of the wiki, writes

    Home.md                the latest published run: crash table, pause table, claims, plots
    Run-<run-id>.md        one page per run, with its plots under images/<run-id>/
    Trends.md              a table and a plot per metric across every published run
    _Sidebar.md            links to all of the above
    data/<run-id>/…        the run's JSON (secrets masked): the history Trends.md is drawn from,
                           so a fresh CI machine that has only tonight's run still shows trends

links pages the way GitHub wikis resolve them (`[text](Page-Name)`, no `.md`), commits with a
message naming the run, and pushes when the checkout has a remote. Publishing the same run twice
writes the same bytes and so makes no commit. Every page passes through `masking.mask_secrets`.
"""

from __future__ import annotations

import hashlib
import logging
import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from harness import goenv
from harness.atomic import write_text_atomic
from harness.errors import CommandError, UsageError
from harness.hostcmd import run_command
from harness.masking import mask_secrets
from harness.report import document, history, plots
from harness.store import RunData, load_run

log = logging.getLogger("gxm.publish")

GIT_TIMEOUT_S = 300.0
RUN_PAGE_PREFIX = "Run-"
DATA_DIR = "data"
IMAGES_DIR = "images"
FALLBACK_IDENTITY = {
    "GIT_AUTHOR_NAME": "gxm",
    "GIT_AUTHOR_EMAIL": "gxm@localhost",
    "GIT_COMMITTER_NAME": "gxm",
    "GIT_COMMITTER_EMAIL": "gxm@localhost",
}


@dataclass(frozen=True)
class PublishResult:
    checkout: Path
    pages: tuple[str, ...]  # page names written (without .md)
    commit: str | None  # the new commit, None when nothing changed
    pushed: bool


# --- git ----------------------------------------------------------------------------------------


def git(checkout: Path, *args: str, check: bool = True) -> str:
    """Run git in `checkout` (never prompting for credentials) and return its stdout stripped."""
    proc = run_command(
        ["git", "-C", str(checkout), *args],
        timeout_s=GIT_TIMEOUT_S,
        extra_env={"GIT_TERMINAL_PROMPT": "0"},
        check=check,
    )
    return proc.stdout.strip()


def _is_bare_repo(path: Path) -> bool:
    return path.is_dir() and (path / "HEAD").is_file() and (path / "objects").is_dir()


def _looks_remote(wiki: str) -> bool:
    return "://" in wiki or bool(re.match(r"^[\w.-]+@[\w.-]+:", wiki))


def checkout_for(wiki: str, cache: Path | None = None) -> tuple[Path, bool]:
    """Where the wiki's pages get written, and whether that checkout is gxm's own (in the cache,
    safe to reset) rather than the user's. A work tree is used as it is; a URL or a bare
    repository is cloned under `<cache>/wiki/`."""
    path = Path(wiki).expanduser()
    if not _looks_remote(wiki) and (path / ".git").exists():
        return path, False
    if not _looks_remote(wiki) and not _is_bare_repo(path):
        raise UsageError(
            f"--wiki {wiki}: neither a git checkout, a bare repository nor a URL"
            " (a GitHub wiki is https://github.com/OWNER/REPO.wiki.git)"
        )
    source = wiki if _looks_remote(wiki) else str(path.resolve())
    digest = hashlib.sha256(source.encode()).hexdigest()[:12]
    return (cache or goenv.cache_dir()) / "wiki" / digest, True


def _branch(checkout: Path) -> str:
    return git(checkout, "symbolic-ref", "--short", "HEAD")


def _remote_branch(checkout: Path) -> str | None:
    """`origin/<branch>` when the checkout has an origin that holds its branch, else None."""
    if "origin" not in git(checkout, "remote").split():
        return None
    ref = f"origin/{_branch(checkout)}"
    found = git(checkout, "rev-parse", "--verify", "--quiet", ref, check=False)
    return ref if found else None


def prepare_checkout(wiki: str, cache: Path | None = None) -> Path:
    """Clone the wiki, or bring an existing checkout up to date with its remote."""
    checkout, owned = checkout_for(wiki, cache)
    if owned and not (checkout / ".git").exists():
        checkout.parent.mkdir(parents=True, exist_ok=True)
        source = wiki if _looks_remote(wiki) else str(Path(wiki).expanduser().resolve())
        run_command(
            ["git", "clone", "--quiet", source, str(checkout)],
            timeout_s=GIT_TIMEOUT_S,
            extra_env={"GIT_TERMINAL_PROMPT": "0"},
        )
        return checkout
    if "origin" in git(checkout, "remote").split():
        git(checkout, "fetch", "--quiet", "origin")
        upstream = _remote_branch(checkout)
        if upstream and owned:
            git(checkout, "reset", "--quiet", "--hard", upstream)
            git(checkout, "clean", "--quiet", "-fd")
        elif upstream:
            try:
                git(checkout, "merge", "--quiet", "--ff-only", upstream)
            except CommandError as exc:
                raise UsageError(
                    f"{checkout}: cannot fast-forward to {upstream}; resolve it with git first"
                ) from exc
    return checkout


def _identity_env(checkout: Path) -> dict[str, str]:
    """A fallback author for machines with no git identity (CI); the user's own when set."""
    if git(checkout, "config", "user.email", check=False):
        return {}
    return dict(FALLBACK_IDENTITY)


def commit_and_push(checkout: Path, message: str) -> tuple[str | None, bool]:
    """Commit everything when something changed; push when there is a remote and local commits
    it lacks. Returns (new commit or None, pushed)."""
    git(checkout, "add", "--all")
    commit = None
    if git(checkout, "status", "--porcelain"):
        run_command(
            ["git", "-C", str(checkout), "commit", "--quiet", "-m", message],
            timeout_s=GIT_TIMEOUT_S,
            extra_env=_identity_env(checkout),
        )
        commit = git(checkout, "rev-parse", "HEAD")
    if "origin" not in git(checkout, "remote").split():
        return commit, False
    upstream = _remote_branch(checkout)
    ahead = git(checkout, "rev-list", "--count", f"{upstream}..HEAD") if upstream else "1"
    if ahead == "0" or not git(checkout, "rev-parse", "--verify", "--quiet", "HEAD", check=False):
        return commit, False
    git(checkout, "push", "--quiet", "origin", f"HEAD:refs/heads/{_branch(checkout)}")
    return commit, True


# --- pages --------------------------------------------------------------------------------------


def run_page(run_id: str) -> str:
    return f"{RUN_PAGE_PREFIX}{run_id}"


def link(text: str, page: str) -> str:
    """A link GitHub wikis resolve: `[text](Page-Name)`, no `.md`."""
    return f"[{text}]({page})"


def published_runs(checkout: Path) -> list[str]:
    """Run ids with a page in the checkout, oldest first."""
    ids = [p.stem.removeprefix(RUN_PAGE_PREFIX) for p in checkout.glob(f"{RUN_PAGE_PREFIX}*.md")]
    return sorted(ids)


def _copy_run_data(data: RunData, checkout: Path) -> None:
    """data/<run-id>/: the run's stored records (run and cell documents), secrets masked."""
    target = checkout / DATA_DIR / data.run_id
    for relative, source in data.store.stored_documents():
        (target / relative).parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(target / relative, mask_secrets(source.read_text(encoding="utf-8")))


def _copy_plots(data: RunData, checkout: Path) -> None:
    plot_dir = data.store.plots_dir
    if not any(plot_dir.glob("*.png")):
        plots.write_plots(data, plot_dir)
    target = checkout / IMAGES_DIR / data.run_id
    target.mkdir(parents=True, exist_ok=True)
    for png in sorted(plot_dir.glob("*.png")):
        if not (target / png.name).exists() or (target / png.name).read_bytes() != png.read_bytes():
            shutil.copyfile(png, target / png.name)


def _nav(*pages: tuple[str, str]) -> str:
    return " · ".join(link(text, page) for text, page in pages)


def _run_page_text(data: RunData) -> str:
    body = document.render_data(data, "md", claims=True, image_dir=f"{IMAGES_DIR}/{data.run_id}")
    return _nav(("Home", "Home"), ("Trends", "Trends")) + "\n\n" + body


def _home_text(data: RunData) -> str:
    body = document.render_data(data, "md", claims=True, image_dir=f"{IMAGES_DIR}/{data.run_id}")
    intro = (
        f"Latest published run: {link(data.run_id, run_page(data.run_id))}."
        f" Earlier runs are in the sidebar; metrics across runs on {link('Trends', 'Trends')}."
    )
    demoted = "\n".join("#" + line if line.startswith("#") else line for line in body.split("\n"))
    return f"# gxm results\n\n{intro}\n\n{demoted}"


def _trends_text(checkout: Path) -> str:
    runs = history.load_history(checkout / DATA_DIR)
    found = history.trends(runs)
    written = plots.write_trend_plots(found, checkout / IMAGES_DIR / "trends", reuse=True)
    images = {key: f"{IMAGES_DIR}/trends/{path.name}" for key, path in written.items()}
    text = history.render_trends(found, "md", images)
    return _nav(("Home", "Home")) + "\n\n" + text


def _sidebar_text(run_ids: Sequence[str]) -> str:
    lines = ["**gxm**", "", f"- {link('Home', 'Home')}", f"- {link('Trends', 'Trends')}", ""]
    lines += ["**Runs**", ""] + [f"- {link(r, run_page(r))}" for r in reversed(run_ids)]
    return "\n".join(lines) + "\n"


def write_pages(data: RunData, checkout: Path) -> list[str]:
    """Write every page (and the files they show) for `data` into `checkout`; return page names.
    Home.md follows the newest published run, so republishing an older run leaves it alone."""
    _copy_run_data(data, checkout)
    _copy_plots(data, checkout)
    pages = {run_page(data.run_id): _run_page_text(data)}
    run_ids = sorted(set(published_runs(checkout)) | {data.run_id})
    if data.run_id == run_ids[-1] or not (checkout / "Home.md").exists():
        pages["Home"] = _home_text(data)
    pages["Trends"] = _trends_text(checkout)
    pages["_Sidebar"] = _sidebar_text(run_ids)
    for name, text in pages.items():
        path = checkout / f"{name}.md"
        text = mask_secrets(text)
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            write_text_atomic(path, text)
    return list(pages)


def publish(run_dir: Path, wiki: str, *, cache: Path | None = None) -> PublishResult:
    """Publish the run in `run_dir` to the wiki at `wiki` (a checkout, a bare repository path or
    a URL): pages written, committed when anything changed, pushed when there is a remote."""
    data = load_run(run_dir)
    checkout = prepare_checkout(wiki, cache)
    pages = write_pages(data, checkout)
    commit, pushed = commit_and_push(checkout, f"gxm: publish run {data.run_id}")
    log.info("wiki %s: %s", checkout, f"commit {commit}" if commit else "no change")
    return PublishResult(checkout, tuple(pages), commit, pushed)

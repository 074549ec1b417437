"""What the `gxm` subcommands that read finished runs do: report, compare, trend and publish.

They live apart from `commands` (the commands that make runs) so that they import none of the run
machinery: `gxm report RUN --write` starts drawing its plots as soon as the run is loaded.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from harness import report, store
from harness.atomic import write_text_atomic
from harness.errors import UsageError
from harness.markup import TABLE_FORMATS

# The subcommands (`cmd_<name>`) defined here; `cli` finds every other one in `commands`.
COMMANDS = ("report", "compare", "trend", "publish")


def cmd_report(args: argparse.Namespace, argv: Sequence[str]) -> int:
    run_dir = store.resolve_run(args.run, args.out)
    if args.assets_url and args.format not in TABLE_FORMATS:
        formats = "|".join(TABLE_FORMATS)
        raise UsageError(f"--assets-url applies to --format {formats} (the ones with plots)")
    image_dir = report.image_base(run_dir, args.output, args.assets_url)
    data = store.load_run(run_dir)
    with report.PendingReports(data, write=args.write) as pending:  # the plots drawn meanwhile
        from harness.report.document import render_data  # imported while they are drawn

        text = render_data(
            data, args.format, claims=bool(args.claims), image_dir=image_dir,
            plot_files=pending.plot_files,
        )  # fmt: skip
        for path in pending.finish():
            print(f"wrote {path}", file=sys.stderr)
    text = text if text.endswith("\n") else text + "\n"
    if args.output is None:
        sys.stdout.write(text)
    else:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(args.output, text)
        print(f"wrote {args.output}", file=sys.stderr)
    return report.exit_code_for_data(data)


def cmd_compare(args: argparse.Namespace, argv: Sequence[str]) -> int:
    from harness.report import history

    run_a = store.resolve_run(args.run_a, args.out)
    run_b = store.resolve_run(args.run_b, args.out)
    comparison = history.compare(run_a, run_b)
    sys.stdout.write(history.render_comparison(comparison, args.format))
    return comparison.exit_code


def cmd_trend(args: argparse.Namespace, argv: Sequence[str]) -> int:
    from harness.report import history, plots

    runs = history.load_history(args.out)
    if not runs:
        raise UsageError(f"no runs under {args.out}/ yet; start one with `gxm run`")
    found = history.trends(runs, args.fixture, args.metric)
    plot_dir = args.plots or args.out / "trends"
    written = plots.write_trend_plots(found, plot_dir)
    images = {key: str(path) for key, path in written.items()}
    sys.stdout.write(history.render_trends(found, args.format, images))
    for path in written.values():
        print(f"plot: {path}", file=sys.stderr)
    return 0


def cmd_publish(args: argparse.Namespace, argv: Sequence[str]) -> int:
    from harness.report import publish

    run_dir = store.resolve_run(args.run, args.out)
    result = publish.publish(run_dir, args.wiki, cache=args.cache)
    state = f"committed {result.commit[:12]}" if result.commit else "no change, nothing committed"
    pushed = ", pushed" if result.pushed else ""
    print(f"wiki {result.checkout}: {', '.join(result.pages)} — {state}{pushed}", file=sys.stderr)
    return 0

"""The nightly GitHub Actions workflow: actionlint-clean, calling only gxm commands that exist."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import yaml

from harness.cli import build_parser

WORKFLOW = Path(__file__).resolve().parents[2] / ".github" / "workflows" / "nightly.yml"


def run_scripts() -> list[str]:
    workflow = yaml.safe_load(WORKFLOW.read_text())
    return [
        step["run"] for job in workflow["jobs"].values() for step in job["steps"] if "run" in step
    ]


def test_actionlint_passes() -> None:
    actionlint = shutil.which("actionlint")
    assert actionlint, "actionlint is a test dependency (pip install -e '.[test]')"
    result = subprocess.run([actionlint, str(WORKFLOW)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_workflow_calls_only_existing_gxm_subcommands() -> None:
    parser = build_parser()
    subparsers = next(a for a in parser._actions if a.dest == "command")
    known = set(subparsers.choices)
    used = {m for script in run_scripts() for m in re.findall(r"\bgxm (\w+)", script)}
    assert used, "the workflow should run gxm"
    assert used <= known, f"unknown gxm subcommands in the workflow: {used - known}"


def test_workflow_runs_on_schedule_and_dispatch_with_inputs() -> None:
    workflow = yaml.safe_load(WORKFLOW.read_text())
    triggers = workflow[True] if True in workflow else workflow["on"]
    assert "schedule" in triggers
    inputs = triggers["workflow_dispatch"]["inputs"]
    assert {"profile", "go", "experiments", "repeats"} <= set(inputs)

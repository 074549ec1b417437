"""Tests for harness.store: atomic files, run ids, run directories, secret masking."""

from __future__ import annotations

import json
import random
import stat
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from harness.atomic import write_json_atomic, write_text_atomic
from harness.errors import UsageError
from harness.masking import mask_secrets
from harness.store import (
    RunStore,
    completed_cells,
    host_info,
    load_run,
    natural_key,
    new_run_id,
    resolve_run,
)
from harness.store.records import CellResult, RunDocument

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "runs" / "sample"


# --- atomic writes ------------------------------------------------------------------------------


def test_write_json_atomic_writes_whole_file_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "run.json"
    write_json_atomic(target, {"schema": "gxm.run/1", "path": Path("/x"), "cells": ["a"]})
    assert json.loads(target.read_text()) == {"schema": "gxm.run/1", "path": "/x", "cells": ["a"]}
    assert [p.name for p in tmp_path.iterdir()] == ["run.json"]
    assert stat.S_IMODE(target.stat().st_mode) == 0o644


def test_failed_json_write_keeps_old_file_and_removes_temp(tmp_path: Path) -> None:
    target = tmp_path / "cell.json"
    write_json_atomic(target, {"version": "old"})
    # The first keys encode fine and are streamed out before the object fails: a real mid-write.
    half_written = {"version": "new", "padding": "x" * 100_000, "broken": object()}
    with pytest.raises(TypeError):
        write_json_atomic(target, half_written)
    assert json.loads(target.read_text()) == {"version": "old"}
    assert [p.name for p in tmp_path.iterdir()] == ["cell.json"]


def test_failed_first_write_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(TypeError):
        write_json_atomic(tmp_path / "new.json", [object()])
    assert list(tmp_path.iterdir()) == []


def test_write_text_atomic_replaces_content(tmp_path: Path) -> None:
    target = tmp_path / "report.txt"
    write_text_atomic(target, "first\n")
    write_text_atomic(target, "second µs\n")
    assert target.read_text(encoding="utf-8") == "second µs\n"
    assert [p.name for p in tmp_path.iterdir()] == ["report.txt"]


# --- run ids and host ---------------------------------------------------------------------------


def test_new_run_id_format_is_utc_and_seeded() -> None:
    now = datetime(2026, 11, 27, 11, 42, 33, tzinfo=timezone(timedelta(hours=1)))
    run_id = new_run_id(now, random.Random(7))
    assert run_id.startswith("20261127T104233Z-")
    assert run_id == new_run_id(now, random.Random(7))
    suffix = run_id.rsplit("-", 1)[1]
    assert len(suffix) == 4 and int(suffix, 16) >= 0


def test_new_run_id_naive_means_utc_and_ids_sort_by_time() -> None:
    early = new_run_id(datetime(2026, 1, 2, 3, 4, 5), random.Random(1))
    late = new_run_id(datetime(2026, 11, 27, 10, 0, 0), random.Random(1))
    assert early.startswith("20260102T030405Z-")
    assert sorted([late, early]) == [early, late]


def test_host_info_reports_machine_not_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GXM_PROBE_TOKEN", "hunter2")
    info = host_info()
    assert set(info) == {"cpus", "memory_bytes", "load_avg", "platform", "python"}
    assert info["cpus"] >= 1 and info["memory_bytes"] > 0
    assert len(info["load_avg"]) in (0, 3)
    assert "hunter2" not in json.dumps(info)


# --- secrets ------------------------------------------------------------------------------------


def test_mask_secrets_mapping_and_pairs() -> None:
    env = {
        "GITHUB_TOKEN": "ghp_x",
        "AWS_SECRET_ACCESS_KEY": "s",
        "DB_Password": "p",
        "HTTP_AUTHORIZATION": "Bearer y",
        "GOFLAGS": "-buildvcs=false",
        "GOEXPERIMENT": "arenas",
    }
    masked = mask_secrets(env)
    assert masked == {
        "GITHUB_TOKEN": "***",
        "AWS_SECRET_ACCESS_KEY": "***",
        "DB_Password": "***",
        "HTTP_AUTHORIZATION": "***",
        "GOFLAGS": "-buildvcs=false",
        "GOEXPERIMENT": "arenas",
    }
    assert env["GITHUB_TOKEN"] == "ghp_x"  # the input is not modified
    pairs = mask_secrets((("API_KEY", "k"), ("GOGC", "100")))
    assert pairs == (("API_KEY", "***"), ("GOGC", "100"))


def test_mask_secrets_text_shell_line_and_json() -> None:
    line = "GOFLAGS=-buildvcs=false NPM_TOKEN='abc def' GOGC=50 go build ./..."
    assert mask_secrets(line) == "GOFLAGS=-buildvcs=false NPM_TOKEN=*** GOGC=50 go build ./..."
    doc = '{"env": {"GITLAB_API_KEY": "glpat-\\"q", "GOMAXPROCS": "2"}}'
    masked = json.loads(mask_secrets(doc))
    assert masked == {"env": {"GITLAB_API_KEY": "***", "GOMAXPROCS": "2"}}
    assert mask_secrets("gh --token=abc -X main.apiKey=k2") == "gh --token=*** -X main.apiKey=***"
    assert mask_secrets("nothing secret here: GODEBUG=clobberfree=1") == (
        "nothing secret here: GODEBUG=clobberfree=1"
    )


# --- run directories ----------------------------------------------------------------------------


def _cell_doc(cell_id: str, build_status: str = "ok", outcome: str = "pass") -> dict:
    go, exp = cell_id.removeprefix("go").split("-", 1)
    return {
        "cell": {"id": cell_id, "go": go, "goexperiment": "" if exp == "default" else exp},
        "build": {"status": build_status, "seconds": 1.0, "log": f"logs/{cell_id}/build.log"},
        "fixtures": {
            "f": {"kind": "stress", "expected": ["pass"], "runs": [{"i": 0, "outcome": outcome}]}
        },
    }


def test_run_store_creates_layout_and_writes_with_schema(tmp_path: Path) -> None:
    store = RunStore.create(tmp_path, "20261127T104233Z-ab12")
    assert (store.run_dir / "cells").is_dir() and (store.run_dir / "logs").is_dir()
    store.write_run(
        RunDocument.from_json(
            {"run_id": store.run_id, "status": "running", "cells": ["go1.22-default"]}
        )
    )
    path = store.write_cell(CellResult.from_json(_cell_doc("go1.22-default")))
    assert path == store.run_dir / "cells" / "go1.22-default.json"
    data = load_run(store.run_dir)
    assert data.to_json()["run"]["schema"] == "gxm.run/1"
    assert data.to_json()["cells"][0]["schema"] == "gxm.cell/2"
    with pytest.raises(UsageError, match="already exists"):
        RunStore.create(tmp_path, "20261127T104233Z-ab12")


def test_log_path_creates_cell_dir_and_refuses_escapes(tmp_path: Path) -> None:
    store = RunStore.create(tmp_path, "r")
    log = store.log_path("go1.22-arenas", "cmem_finalizer.0.stderr")
    assert log.parent.is_dir()
    assert store.relative(log) == "logs/go1.22-arenas/cmem_finalizer.0.stderr"
    with pytest.raises(UsageError):
        store.log_path("go1.22-arenas", "../../escape")
    with pytest.raises(UsageError):
        store.log_path("..", "build.log")


def test_load_sample_run_sorts_cells_naturally() -> None:
    data = load_run(SAMPLE)
    assert data.run_id == "20261127T104233Z-ab12"
    ids = [c.id for c in data.results]
    assert ids == [
        "go1.22-arenas",
        "go1.22-default",
        "go1.22-greenteagc",
        "go1.26-arenas",
        "go1.26-default",
    ]
    assert data.cell_ids() == list(data.document.cells)
    assert data.missing_cells() == []
    assert sorted(["go1.22-default", "go1.9-default"], key=natural_key) == [
        "go1.9-default",
        "go1.22-default",
    ]


def test_load_run_names_a_broken_cell_file(tmp_path: Path) -> None:
    store = RunStore.create(tmp_path, "r")
    store.write_run(RunDocument.from_json({"cells": []}))
    (store.run_dir / "cells" / "go1.22-default.json").write_text('{"schema": "gxm.cell/1", ')
    with pytest.raises(UsageError, match="go1.22-default.json"):
        load_run(store.run_dir)
    with pytest.raises(UsageError, match="not a gxm run directory"):
        load_run(tmp_path)


def test_completed_cells_skips_broken_infra_and_temp_files(tmp_path: Path) -> None:
    store = RunStore.create(tmp_path, "r")
    store.write_cell(CellResult.from_json(_cell_doc("go1.22-default")))
    store.write_cell(CellResult.from_json(_cell_doc("go1.22-arenas", outcome="crash")))
    store.write_cell(CellResult.from_json(_cell_doc("go1.26-default", outcome="infra-error")))
    store.write_cell(CellResult.from_json(_cell_doc("go1.26-arenas", build_status="infra-error")))
    cells = store.run_dir / "cells"
    (cells / "go1.25-default.json").write_text('{"schema": "gxm.cell/1", "cell"')
    (cells / ".go1.25-arenas.json.x1y2.tmp").write_text("{")
    assert completed_cells(store.run_dir) == {"go1.22-default", "go1.22-arenas"}


def _make_run(root: Path, run_id: str) -> Path:
    store = RunStore.create(root, run_id)
    store.write_run(RunDocument.from_json({"run_id": run_id, "cells": []}))
    return store.run_dir


def test_resolve_run_by_latest_id_prefix_and_path(tmp_path: Path) -> None:
    old = _make_run(tmp_path, "20261126T230000Z-0001")
    new = _make_run(tmp_path, "20261127T104233Z-ab12")
    (tmp_path / "not-a-run").mkdir()
    assert resolve_run("latest", tmp_path) == new
    assert resolve_run("20261126T230000Z-0001", tmp_path) == old
    assert resolve_run("20261126", tmp_path) == old
    assert resolve_run(str(new), tmp_path / "elsewhere") == new
    assert resolve_run(str(new / "run.json"), tmp_path / "elsewhere") == new


def test_resolve_run_errors_are_one_line_usage_errors(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no runs under"):
        resolve_run("latest", tmp_path)
    _make_run(tmp_path, "20261127T104233Z-ab12")
    _make_run(tmp_path, "20261127T110000Z-cd34")
    with pytest.raises(UsageError, match="ambiguous") as ambiguous:
        resolve_run("20261127", tmp_path)
    with pytest.raises(UsageError, match="no run 'nope'") as missing:
        resolve_run("nope", tmp_path)
    assert "\n" not in str(ambiguous.value) + str(missing.value)


def test_store_names_every_path_in_a_run_and_refuses_escapes(tmp_path: Path) -> None:
    store = RunStore.create(tmp_path, "r")
    assert store.report_path("report.md") == store.run_dir / "report.md"
    assert store.claims_path("go_api.json") == store.run_dir / "claims" / "go_api.json"
    assert store.path_of("logs/c/f.0.stderr") == store.run_dir / "logs" / "c" / "f.0.stderr"
    for bad in ("../x", "", ".."):
        with pytest.raises(UsageError):
            store.report_path(bad)


def test_copy_cell_from_takes_the_document_byte_for_byte_and_its_logs(tmp_path: Path) -> None:
    source = RunStore.create(tmp_path, "a")
    source.write_run(RunDocument.from_json({"run_id": "a", "cells": ["go1.22-default"]}))
    source.write_cell(CellResult.from_json(_cell_doc("go1.22-default")))
    source.log_path("go1.22-default", "build.log").write_text("built\n")
    target = RunStore.create(tmp_path, "b")
    target.copy_cell_from(source, "go1.22-default")
    cell = "go1.22-default"
    assert target.cell_path(cell).read_bytes() == source.cell_path(cell).read_bytes()
    assert (target.run_dir / "logs" / cell / "build.log").read_text() == "built\n"
    assert [name for name, _ in source.stored_documents()] == ["run.json", f"cells/{cell}.json"]


# --- masking what comes back from fixtures and URLs (reliability) --------------------------------


def test_credentials_in_urls_are_masked_in_text() -> None:
    """`gxm publish --wiki https://x-access-token:SECRET@host/…` that could not connect printed
    the whole `git clone` line, token included."""
    url = "https://x-access-token:ghs_SECRET@github.com/o/r.wiki.git"
    line = f"`git clone --quiet {url} /c` exited 128"
    masked = mask_secrets(line)
    assert "ghs_SECRET" not in masked and "x-access-token" not in masked
    assert "https://***@github.com/o/r.wiki.git" in masked


def test_a_command_error_never_carries_a_token() -> None:
    from harness.errors import CommandError

    error = CommandError(["git", "clone", "https://u:tok3n@h/r.git", "/x"], 128, "fatal: nope")
    assert "tok3n" not in str(error)


def test_values_a_fixture_echoes_back_are_masked() -> None:
    """A secret in the matrix env echoed by a fixture into its checks landed unmasked in the
    cell JSON."""
    from harness.masking import mask_json, secret_values

    known = secret_values({"MY_API_TOKEN": "s3cr3t-value", "GOGC": "100", "KEY": "abc"})
    assert known == ("s3cr3t-value",)  # too short a value would mask ordinary words
    checks = {"env_dump": "MY_API_TOKEN=s3cr3t-value", "echo": "got s3cr3t-value!",
              "nested": [{"x": "s3cr3t-value"}], "api_key": 42, "count": 7}  # fmt: skip
    masked = mask_json(checks, known)
    assert "s3cr3t-value" not in json.dumps(masked)
    assert masked["count"] == 7 and masked["api_key"] == "***"

"""`python -m refresh` end to end on temporary data directories (real dbt, real GX).

The scenarios run as concurrent subprocesses from one module fixture, because each pays
dbt's start-up; the tests then read what each left behind.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from marquee.lake import MINUTE_AGGREGATES, MINUTE_AGGREGATES_SCHEMA, write_table_atomically
from marquee.layout import DataLayout
from marquee.settings import PROJECT_ROOT
from refresh.build_report import read_refresh_status
from refresh.catalogue_watch import CATALOGUE_MODELS
from refresh.loop import model_results_path
from tests.support.impression_scenario import at, day_d

pytestmark = pytest.mark.integration

EPOCH_MINUTE = at(day_d(), 23, 59) // 60_000
"""The last minute of the UTC day two days before the session's: past, and on one day."""
TIMEOUT_S = 300


def minute_row(content_id: str, **values: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "epoch_minute": EPOCH_MINUTE,
        "content_id": content_id,
        "creator_id": "u1",
        "content_type": "clip",
        "platform": "web",
        "country": "DE",
        "attempts": 1,
        "starts": 1,
        "fatal_errors": 0,
        "played_ms": 10_000,
        "stalled_ms": 250,
        "stall_count": 1,
        "seek_ms": 0,
        "startup_ms_sum": 600,
        "run_id": 1,
        "processed_at_ms": 1_000,
    }
    row.update(values)
    return row


def land(root: Path, rows: list[dict[str, Any]]) -> DataLayout:
    """Land one run file, without the lake's `_schema.parquet` (the refresh must add it)."""
    layout = DataLayout(root)
    directory = layout.lake_table_dir(MINUTE_AGGREGATES)
    directory.mkdir(parents=True)
    table = pa.Table.from_pylist(rows, schema=MINUTE_AGGREGATES_SCHEMA)
    write_table_atomically(table, directory / "run-000001.parquet")
    return layout


@dataclass
class Finished:
    layout: DataLayout
    returncode: int
    output: str
    pid: int | None = None
    killed: tuple[int, ...] = ()
    """Child processes of the loop that the test killed."""


def start_refresh(layout: DataLayout, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "MARQUEE_DATA_DIR": str(layout.root)}
    return subprocess.Popen(
        [sys.executable, "-m", "refresh", *args],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def stop_after(
    process: subprocess.Popen[str],
    marker: str,
    times: int = 1,
    on_line: Callable[[str], None] | None = None,
) -> tuple[int, str]:
    """Read the loop's output (each line passed to `on_line` as it comes); once `marker`
    has appeared `times` times, send SIGTERM and collect the rest."""
    assert process.stdout is not None
    lines: list[str] = []
    timer = threading.Timer(TIMEOUT_S, process.kill)
    timer.start()
    try:
        for line in process.stdout:
            lines.append(line)
            if on_line is not None:
                on_line(line)
            if marker in line:
                times -= 1
                if times == 0:
                    process.send_signal(signal.SIGTERM)
        return process.wait(), "".join(lines)
    finally:
        timer.cancel()


CHECKPOINT_WORKER_STARTED = re.compile(r"checkpoint worker started \(pid (\d+)\)")


def kill_first_checkpoint_worker(killed: list[int]) -> Callable[[str], None]:
    """An `on_line` that kills -9 the first checkpoint worker the loop starts (while it is
    still importing Great Expectations) and notes its pid in `killed`."""

    def on_line(line: str) -> None:
        started = CHECKPOINT_WORKER_STARTED.search(line)
        if started and not killed:
            killed.append(int(started.group(1)))
            os.kill(killed[0], signal.SIGKILL)

    return on_line


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Finished]]:
    good = land(tmp_path_factory.mktemp("good"), [minute_row("c1"), minute_row("c2")])
    bad = land(tmp_path_factory.mktemp("bad"), [minute_row("c1", stalled_ms=-1)])
    loop = land(tmp_path_factory.mktemp("loop"), [minute_row("c1", content_type="podcast")])
    warm = land(tmp_path_factory.mktemp("warm"), [minute_row("c1")])
    failing = land(tmp_path_factory.mktemp("failing"), [minute_row("c1", stalled_ms=-1)])
    checker_killed = land(tmp_path_factory.mktemp("checker_killed"), [minute_row("c1")])

    once_good = start_refresh(good, "--once")
    once_bad = start_refresh(bad, "--once")
    forever = start_refresh(loop, "--interval-s", "3600")
    forever_warm = start_refresh(warm, "--interval-s", "0")
    forever_failing = start_refresh(failing, "--interval-s", "0")
    forever_killed = start_refresh(checker_killed, "--interval-s", "0")
    killed: list[int] = []
    try:
        # Read first, while the others run: the kill must land during the checkpoint.
        killed_code, killed_output = stop_after(
            forever_killed, "published", times=2, on_line=kill_first_checkpoint_worker(killed)
        )
        loop_code, loop_output = stop_after(forever, "dbt tests FAILED")
        warm_code, warm_output = stop_after(forever_warm, "published", times=2)
        failing_code, failing_output = stop_after(forever_failing, "dbt tests FAILED", times=2)
        finished = {
            "loop": Finished(loop, loop_code, loop_output),
            "warm": Finished(warm, warm_code, warm_output),
            "failing": Finished(failing, failing_code, failing_output),
            "checker_killed": Finished(
                checker_killed, killed_code, killed_output, forever_killed.pid, tuple(killed)
            ),
        }
        for name, layout, process in (("good", good, once_good), ("bad", bad, once_bad)):
            output, _ = process.communicate(timeout=TIMEOUT_S)
            finished[name] = Finished(layout, process.returncode, output)
        yield finished
    finally:
        for process in (
            once_good,
            once_bad,
            forever,
            forever_warm,
            forever_failing,
            forever_killed,
        ):
            if process.poll() is None:
                process.kill()
                process.wait()


def test_once_builds_checks_and_publishes_the_serving_snapshot(runs: dict[str, Finished]) -> None:
    run = runs["good"]
    assert run.returncode == 0, run.output
    with duckdb.connect(str(run.layout.serving_db), read_only=True) as connection:
        rows = connection.sql(
            "select content_id, play_requests, played_ms, watched_ms"
            " from main.content_daily_performance order by content_id"
        ).fetchall()
    assert rows == [("c1", 1, 10_000, 10_850), ("c2", 1, 10_000, 10_850)]
    assert json.loads((run.layout.gx_dir / "latest.json").read_text())["verdict"] == "passed"
    assert (run.layout.gx_dir / "docs" / "index.html").exists()
    assert (run.layout.lake_table_dir(MINUTE_AGGREGATES) / "_schema.parquet").exists()
    assert not list(run.layout.warehouse_dir.glob(".*.tmp"))
    step_lines = [line for line in run.output.splitlines() if "refresh.loop" in line]
    assert any("dbt models ok in" in line for line in step_lines)
    assert any("dbt tests ok in" in line for line in step_lines)
    assert any("expectations checkpoint ok in" in line for line in step_lines)
    assert any("published" in line and "serving.duckdb" in line for line in step_lines)
    status = read_refresh_status(run.layout.refresh_status)
    assert status is not None and status["published"] is True
    assert status["model_errors"] == [] and status["test_failures"] == []
    assert status["models_built"] > 20 and status["tests_passed"] > 20


def test_first_build_of_a_warehouse_is_a_full_refresh_without_unit_tests(
    runs: dict[str, Finished],
) -> None:
    """The first build writes every row, so it must test every row (a plain build tests
    only the rows it wrote); models and data tests run as two passes; the refresh loop
    never runs the SQL's unit tests."""
    run = runs["good"]
    assert run.returncode == 0, run.output
    models = json.loads(model_results_path(run.layout).read_text())
    assert models["args"]["full_refresh"] is True
    kinds = Counter(result["unique_id"].split(".")[0] for result in models["results"])
    assert set(kinds) == {"model", "operation"}  # operation: the on-run-start hooks
    status = read_refresh_status(run.layout.refresh_status)
    assert status is not None and status["models_built"] == kinds["model"], "hooks not counted"
    run_results = run.layout.dbt_artifacts / "target" / "run_results.json"
    tests = json.loads(run_results.read_text())
    assert {result["unique_id"].split(".")[0] for result in tests["results"]} == {
        "test",
        "operation",
    }
    assert tests["args"]["vars"].get("marquee_test_all_rows") is True


def test_a_row_breaking_a_rule_fails_its_test_and_a_critical_expectation_but_every_model_is_built(
    runs: dict[str, Finished],
) -> None:
    """A failing data test never keeps a model from building; the negative stalled time also
    fails a critical expectation, so the cycle publishes nothing (there is no previous copy
    here: test_expectations_refresh shows the previous one kept), says why, and --once
    exits 2."""
    run = runs["bad"]
    assert run.returncode == 2, run.output
    assert "dbt tests FAILED" in run.output
    assert "row_rules_stg_pipeline__minute_aggregates (1 failing)" in run.output
    assert "[critical] content_daily_performance: stalled_ms >= 0 failed" in run.output
    assert "serving.duckdb NOT published" in run.output
    with duckdb.connect(str(run.layout.dbt_db), read_only=True) as connection:
        rows = connection.sql(
            "select content_id, stalled_ms from main.content_daily_performance"
        ).fetchall()
    assert rows == [("c1", -1)]
    assert not run.layout.serving_db.exists()
    status = read_refresh_status(run.layout.refresh_status)
    assert status is not None and status["published"] is False
    assert status["kept_previous_copy"] is True and status["checks_verdict"] == "critical"
    assert status["model_errors"] == [] and status["models_skipped"] == []
    failed = {problem["name"]: problem["failing_rows"] for problem in status["test_failures"]}
    assert failed["row_rules_stg_pipeline__minute_aggregates"] == 1


def test_loop_stops_cleanly_on_sigterm(runs: dict[str, Finished]) -> None:
    run = runs["loop"]
    assert run.returncode == 0, run.output
    assert "SIGTERM received" in run.output
    assert "refresh loop stopped" in run.output  # within the 3600 s interval
    assert "Traceback" not in run.output


def test_loop_builds_every_cycle_in_one_dbt_worker_that_releases_the_warehouse(
    runs: dict[str, Finished],
) -> None:
    """Only the worker's first build imports dbt and parses the project; after each build
    the worker lets go of dbt.duckdb, or the checkpoint and the snapshot copy could not
    open it."""
    run = runs["warm"]
    assert run.returncode == 0, run.output
    lines = run.output.splitlines()
    assert sum("dbt worker started" in line for line in lines) == 1, run.output
    assert sum("dbt models ok in" in line for line in lines) >= 2, run.output
    assert sum("expectations checkpoint ok in" in line for line in lines) >= 2, run.output
    assert sum("published" in line for line in lines) >= 2, run.output
    models_pass = json.loads(model_results_path(run.layout).read_text())
    assert models_pass["args"].get("full_refresh") is not True
    # The catalogue did not change after the first cycle: its tables are kept, not rebuilt.
    built = {result["unique_id"].split(".")[-1] for result in models_pass["results"]}
    assert "stg_pipeline__minute_aggregates" in built
    assert not built & set(CATALOGUE_MODELS), built
    # After a clean cycle, the next tests only the rows it writes.
    status = read_refresh_status(run.layout.refresh_status)
    assert status is not None and status["tested_all_rows"] is False, status


def test_the_loop_tests_every_row_after_a_failed_build(runs: dict[str, Finished]) -> None:
    """A plain build tests only the rows it wrote, and a failed build's rows were never
    tested clean: the build after a failure tests every row (TEST_ALL_ROWS)."""
    run = runs["failing"]
    assert run.output.count("dbt tests FAILED") >= 2, run.output
    models = json.loads(model_results_path(run.layout).read_text())["args"]
    assert models.get("full_refresh") is not True  # the second build, or a later one
    status = read_refresh_status(run.layout.refresh_status)
    assert status is not None and status["test_failures"], status
    assert status["tested_all_rows"] is True, status


def test_the_loop_checks_in_a_child_process_whose_crash_publishes_anyway(
    runs: dict[str, Finished],
) -> None:
    """The checkpoint runs outside the loop's process (so the memory it keeps is not the
    loop's): a checkpoint worker killed mid-run is a crashed checkpoint, the cycle still
    publishes, and the next cycle checks in a new worker."""
    run = runs["checker_killed"]
    assert run.returncode == 0, run.output
    workers = [int(pid) for pid in CHECKPOINT_WORKER_STARTED.findall(run.output)]
    assert len(workers) >= 2 and run.killed == (workers[0],), run.output
    assert run.pid not in workers and workers[1] != workers[0], run.output
    lines = run.output.splitlines()
    crashed = next(i for i, line in enumerate(lines) if "checkpoint CRASHED" in line)
    assert "publishing anyway" in lines[crashed]
    assert "the checkpoint worker process died" in run.output
    published = [i for i, line in enumerate(lines) if "published" in line and "serving" in line]
    checked = [i for i, line in enumerate(lines) if "expectations checkpoint ok in" in line]
    assert published[0] > crashed and checked and checked[0] > crashed, run.output
    assert published[1] > checked[0], run.output
    status = read_refresh_status(run.layout.refresh_status)
    assert status is not None and status["published"] is True
    assert status["checks_verdict"] == "passed", status

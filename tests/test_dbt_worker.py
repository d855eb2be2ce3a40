"""The refresh loop's long-lived dbt worker (refresh.dbt_worker) parses the project again
when its sources change, so an edit takes effect at the next build, as it did when each
build was a fresh `dbt` command. Runs the real worker and dbt on a copy of the project."""

from __future__ import annotations

import os
import shutil
import signal
import time
from pathlib import Path

import duckdb
import pytest

from marquee.layout import DataLayout
from refresh.dbt_cli import DBT_PROJECT_DIR
from refresh.dbt_worker import DbtWorker

pytestmark = pytest.mark.integration

PROBE = ("--select", "worker_probe")


def answer(layout: DataLayout) -> int:
    with duckdb.connect(str(layout.dbt_db), read_only=True) as connection:
        row = connection.execute("select answer from main.worker_probe").fetchone()
    assert row is not None
    return int(row[0])


def project_with_probe(tmp_path: Path, probe_sql: str | None) -> tuple[Path, DataLayout]:
    """A copy of the dbt project (with models/worker_probe.sql when `probe_sql` is given)
    and an empty data directory."""
    project = tmp_path / "dbt"
    shutil.copytree(DBT_PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs"))
    if probe_sql is not None:
        (project / "models" / "worker_probe.sql").write_text(probe_sql)
    return project, DataLayout(tmp_path / "data").ensure()


def test_the_worker_builds_models_added_and_edited_while_it_runs(tmp_path: Path) -> None:
    project, layout = project_with_probe(tmp_path, None)
    probe = project / "models" / "worker_probe.sql"

    with DbtWorker(layout, project_dir=project) as worker:
        first = worker.build(*PROBE)
        assert first.success, first.tail()  # selects nothing yet

        probe.write_text("select 42 as answer\n")
        added = worker.build(*PROBE)
        assert added.success, added.tail()
        assert answer(layout) == 42

        probe.write_text("select 43 as answer\n")
        edited = worker.build(*PROBE)
        assert edited.success, edited.tail()
        assert answer(layout) == 43


def test_a_failed_build_is_in_dbt_log_without_the_debug_events(tmp_path: Path) -> None:
    """The refresh loop's failure message points at dbt.log: the failure must be there.
    The worker leaves dbt's debug events (every statement) out of it (FILE_LOG_LEVEL)."""
    project, layout = project_with_probe(tmp_path, "select * from no_such_table\n")

    with DbtWorker(layout, project_dir=project) as worker:
        failed = worker.build(*PROBE)

    assert not failed.success
    log = (layout.dbt_artifacts / "logs" / "dbt.log").read_text()
    assert "no_such_table" in log
    assert "[debug]" not in log


def test_a_worker_killed_between_builds_is_replaced_by_the_next_build(tmp_path: Path) -> None:
    """The worker is a separate interpreter (`python -m refresh.dbt_worker`); when it dies,
    the next build starts another, as the refresh loop relies on."""
    project, layout = project_with_probe(tmp_path, "select 42 as answer\n")

    with DbtWorker(layout, project_dir=project) as worker:
        first = worker.build(*PROBE)
        assert first.success, first.tail()
        child = worker.child_pid
        assert child is not None
        os.kill(child, signal.SIGKILL)
        wait_until_dead(child)

        after = worker.build(*PROBE)
        assert after.success, after.tail()
        assert worker.child_pid not in (None, child)
        assert answer(layout) == 42


def wait_until_dead(pid: int) -> None:
    """Until the killed child can be reaped (every thread of it gone), without reaping it:
    the worker finds it dead at its next build."""
    deadline = time.monotonic() + 10
    while os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is None:
        assert time.monotonic() < deadline, f"process {pid} still running"
        time.sleep(0.02)

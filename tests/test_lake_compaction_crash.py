"""Compaction survives kill -9 anywhere, and dbt reads a compacted lake as it read the runs.

- `python -m pipelines compact` is killed with SIGKILL after a random delay (landing in
  its start-up, a Parquet write, the rename, the deletion of replaced files), again and
  again on the same lake; after every kill each lake table holds exactly its rows
  (fingerprints over the files a reader counts), then the command finishes and the file
  count is bounded.
- dbt builds over the compacted lake while the replaced run files are still there (within
  the grace), on a full build and on an incremental build whose new runs sit in both
  copies, and its staging tables (every mart's input from the lake) equal those of a
  build over the run files alone.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import duckdb
import pytest

from marquee.lake import MINUTE_AGGREGATES
from marquee.lake_runs import lake_files_of, split_visible
from marquee.layout import DataLayout
from marquee.settings import Settings
from pipelines.compaction import lake_file_counts
from pipelines.ledger import Ledger
from pipelines.maintenance import Maintenance
from refresh.dbt_cli import run_dbt_build
from tests.support import REPO_ROOT
from tests.support.lake_history import build_lake, fingerprints

pytestmark = [pytest.mark.integration, pytest.mark.timeout(1500)]

RUNS = 60
KILLS = 15


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> DataLayout:
    """60 runs of about 20,000 events, 40 minutes apart: 40 hours, the newest 3 hours ago."""
    layout = DataLayout(tmp_path_factory.mktemp("lake"))
    assert build_lake(layout, RUNS, hours_apart=2 / 3, events=20_000) == RUNS
    return layout


def _copy(layout: DataLayout, target: Path) -> DataLayout:
    shutil.copytree(layout.root, target)
    return DataLayout(target)


def _compact_env(layout: DataLayout, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "MARQUEE_DATA_DIR": str(layout.root),
        "MARQUEE_COMPACTION_GRACE_S": "0",
        "MARQUEE_COMPACTION_MIN_FILES": "2",
        **extra,
    }


def test_kill_9_at_any_point_of_a_compaction_loses_and_doubles_nothing(
    lake: DataLayout, tmp_path: Path
) -> None:
    layout = _copy(lake, tmp_path / "data")
    expected = fingerprints(layout)
    files_before = sum(lake_file_counts(layout).values())
    rng = random.Random(22)
    command = [sys.executable, "-m", "pipelines", "compact"]
    finished_early = 0
    for kill in range(KILLS):
        process = subprocess.Popen(
            command, cwd=REPO_ROOT, env=_compact_env(layout), stderr=subprocess.DEVNULL
        )
        time.sleep(rng.uniform(0.5, 4.0))
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
        else:
            finished_early += 1
        process.wait()
        assert fingerprints(layout) == expected, f"after kill {kill + 1}"
    final = subprocess.run(command, cwd=REPO_ROOT, env=_compact_env(layout), check=True)
    assert final.returncode == 0
    subprocess.run(command, cwd=REPO_ROOT, env=_compact_env(layout), check=True)  # cleans up
    assert fingerprints(layout) == expected
    files_after = sum(lake_file_counts(layout).values())
    minute_files = lake_files_of(layout.lake_table_dir(MINUTE_AGGREGATES))
    assert split_visible(minute_files)[1] == []
    # 40 hours of runs: two finished days at most become a file each, the hours of today
    # one each; nothing is left of the run files of finished hours.
    assert len(minute_files) <= 2 + 24, minute_files
    assert files_after < files_before / 2, (files_before, files_after)
    assert finished_early < KILLS, "no kill landed while the command ran"


STAGING = [
    "stg_pipeline__minute_aggregates",
    "stg_pipeline__view_summaries",
    "stg_pipeline__ad_plays",
    "stg_pipeline__story_viewer_facts",
    "stg_pipeline__live_viewer_facts",
    "stg_pipeline__creator_viewer_days",
    "stg_pipeline__creator_minute_aggregates",
    "stg_pipeline__tip_minute_aggregates",
    "stg_pipeline__reaction_minute_aggregates",
    "stg_pipeline__dead_letters",
]
"""Every staging model over a lake table: what the marts are built from."""
BUILD_ARGS = [
    "--select",
    *(f"+{model}" for model in STAGING),
    "--exclude-resource-type",
    "unit_test",
    "test",
]


def _staged(layout: DataLayout) -> dict[str, list[tuple[object, ...]]]:
    """Every staging table's rows, without the build's own stamps."""
    tables = {}
    with duckdb.connect(str(layout.dbt_db), read_only=True) as conn:
        for model in STAGING:
            columns = [row[0] for row in conn.execute(f"describe main.{model}").fetchall()]
            kept = ", ".join(c for c in columns if c != "built_at_ms")
            rows = conn.execute(f"select {kept} from main.{model}").fetchall()
            tables[model] = sorted(rows, key=repr)
    return tables


def _compact_in_process(layout: DataLayout) -> None:
    settings = Settings(data_dir=layout.root, compaction_grace_s=3600, compaction_min_files=2)
    maintenance = Maintenance.of(settings, layout, Ledger(layout.state_db), layout.log_dir)
    assert maintenance.until_done() > 0
    assert split_visible(lake_files_of(layout.lake_table_dir(MINUTE_AGGREGATES)))[1], (
        "the replaced run files are still there: the build sees both copies"
    )


def _set_last_run(layout: DataLayout, run_id: int) -> None:
    status = json.loads(layout.pipeline_status.read_text())
    status["last_run_id"] = run_id
    layout.pipeline_status.write_text(json.dumps(status))


def test_dbt_stages_a_compacted_lake_as_it_staged_the_runs(
    lake: DataLayout, tmp_path: Path
) -> None:
    reference = _copy(lake, tmp_path / "reference")
    full = _copy(lake, tmp_path / "full")
    _compact_in_process(full)
    incremental = _copy(lake, tmp_path / "incremental")
    _set_last_run(incremental, RUNS // 2)
    with ThreadPoolExecutor(3) as pool:
        builds = list(
            pool.map(
                lambda layout: run_dbt_build(layout, *BUILD_ARGS), [reference, full, incremental]
            )
        )
    for build in builds:
        assert build.success, build.output[-3000:]
    # The second half of the runs is committed after the first build, and compacted with
    # the first half before the next build: its new runs are in run files and compacted
    # files alike.
    _compact_in_process(incremental)
    _set_last_run(incremental, RUNS)
    again = run_dbt_build(incremental, *BUILD_ARGS)
    assert again.success, again.output[-3000:]
    expected = _staged(reference)
    assert expected["stg_pipeline__minute_aggregates"] and expected["stg_pipeline__view_summaries"]
    assert _staged(full) == expected
    assert _staged(incremental) == expected

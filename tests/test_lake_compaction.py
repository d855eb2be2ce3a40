"""Compaction of the lake's run files (pipelines/compaction.py, docs/reliability.md).

A lake of many committed runs spread over two days is compacted step by step; every
table's rows stay exactly the same (fingerprints over the files a reader counts), the file
count falls to one file per finished hour then per finished day, the newest runs keep
their own files, and the replaced files go only after the grace.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from marquee.lake import DEAD_LETTERS, MINUTE_AGGREGATES
from marquee.lake_runs import lake_file_of, lake_files_of, split_visible, visible_files
from marquee.layout import DataLayout
from pipelines.compaction import CompactionPolicy, Compactor, lake_file_counts
from pipelines.ledger import Ledger
from pipelines.sinks.lake import read_run_table
from tests.support.lake_history import HOUR_MS, build_lake, fingerprints

pytestmark = pytest.mark.unit

RUNS = 24
DAY_MS = 24 * HOUR_MS


def _now() -> int:
    return int(time.time() * 1000)


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> DataLayout:
    """24 runs, 2 hours apart: the oldest 48 hours ago, the newest 3 hours ago."""
    layout = DataLayout(tmp_path_factory.mktemp("lake"))
    assert build_lake(layout, RUNS, hours_apart=2, events=2_000) == RUNS
    return layout


def _copy(layout: DataLayout, target: Path) -> DataLayout:
    import shutil

    shutil.copytree(layout.root, target)
    return DataLayout(target)


def test_file_names_say_which_runs_they_hold() -> None:
    run = lake_file_of("run-000000000042.parquet")
    assert run is not None and (run.first, run.last, run.span) == (42, 42, 0)
    letters = lake_file_of("run-000000000042-1700000000000-ab-000001.parquet")
    assert letters is not None and (letters.first, letters.span) == (42, 0)
    compact = lake_file_of("compact-000000000040-000000000049.parquet")
    assert compact is not None and (compact.first, compact.last, compact.span) == (40, 49, 10)
    for other in ("_schema.parquet", ".compact-000000000001-000000000002.parquet.tmp", "x.txt"):
        assert lake_file_of(other) is None


def test_a_wider_file_shadows_the_runs_it_holds(tmp_path: Path) -> None:
    for name in (
        "run-000000000001.parquet",
        "run-000000000002.parquet",
        "run-000000000002-seg.parquet",
        "run-000000000003.parquet",
        "compact-000000000001-000000000002.parquet",
    ):
        (tmp_path / name).touch()
    visible, shadowed = split_visible(lake_files_of(tmp_path))
    assert sorted(Path(f.path).name for f in visible) == [
        "compact-000000000001-000000000002.parquet",
        "run-000000000003.parquet",
    ]
    assert len(shadowed) == 3
    (tmp_path / "compact-000000000001-000000000003.parquet").touch()
    assert [Path(p).name for p in visible_files(tmp_path)] == [
        "compact-000000000001-000000000003.parquet"
    ]
    assert visible_files(tmp_path, up_to_run=2) == []


def test_compaction_keeps_every_table_identical_and_bounds_the_files(
    lake: DataLayout, tmp_path: Path
) -> None:
    layout = _copy(lake, tmp_path / "data")
    before = fingerprints(layout)
    files_before = lake_file_counts(layout)
    assert files_before[MINUTE_AGGREGATES] == RUNS
    ledger = Ledger(layout.state_db)
    compactor = Compactor(layout, ledger, CompactionPolicy(min_age_s=3600, grace_s=0), _now)
    steps = 0
    while compactor.step().files_written:
        steps += 1
        assert fingerprints(layout) == before, f"after step {steps}"
        assert steps < 100
    compactor.step()  # deletes what the last step replaced
    after = lake_file_counts(layout)
    assert fingerprints(layout) == before
    # 24 runs 2 hours apart over 46 hours: each UTC day over before the cutoff (now less
    # the minimum age) becomes one file, the later days' hours keep one file each: never
    # more files than such days + the later runs (the split depends on the hour of the run).
    started = ledger.started_at_ms(list(range(1, RUNS + 1)))
    cutoff_ms = _now() - 3600 * 1000
    days = {ms // DAY_MS for ms in started.values()}
    finished_days = {day for day in days if (day + 1) * DAY_MS <= cutoff_ms}
    runs_today = sum(1 for ms in started.values() if ms // DAY_MS not in finished_days)
    minute_files = lake_files_of(layout.lake_table_dir(MINUTE_AGGREGATES))
    assert all(f.compacted or f.first == f.last for f in minute_files)
    assert len(minute_files) <= len(finished_days) + runs_today, minute_files
    assert len(minute_files) < RUNS, minute_files
    assert after[MINUTE_AGGREGATES] == len(minute_files)
    _, shadowed = split_visible(minute_files)
    assert shadowed == []
    # A run's rows can still be read by its id (replay, the Snowflake export).
    for run_id in (1, RUNS // 2, RUNS):
        frame = read_run_table(layout.lake_dir, MINUTE_AGGREGATES, run_id)
        assert frame is not None and set(frame["run_id"]) == {run_id}


def test_the_newest_runs_keep_their_files_and_an_open_hour_waits_for_enough_files(
    lake: DataLayout, tmp_path: Path
) -> None:
    layout = _copy(lake, tmp_path / "data")
    ledger = Ledger(layout.state_db)
    now = int(time.time() * 1000)
    # Runs started within the last 30 hours are too young.
    policy = CompactionPolicy(min_age_s=30 * 3600, min_files=100, grace_s=0)
    compactor = Compactor(layout, ledger, policy, _now)
    while compactor.step().files_written:
        pass
    compactor.step()
    young = ledger.started_at_ms(list(range(1, RUNS + 1)))
    for file in lake_files_of(layout.lake_table_dir(MINUTE_AGGREGATES)):
        if young[file.last] >= now - 30 * HOUR_MS:
            assert not file.compacted, file


def test_replaced_files_stay_until_the_grace_is_over(lake: DataLayout, tmp_path: Path) -> None:
    layout = _copy(lake, tmp_path / "data")
    before = fingerprints(layout)
    ledger = Ledger(layout.state_db)
    ahead = [0]
    compactor = Compactor(
        layout, ledger, CompactionPolicy(min_age_s=3600, grace_s=600), lambda: _now() + ahead[0]
    )
    report = compactor.step()
    assert report.files_written > 0
    directory = layout.lake_table_dir(MINUTE_AGGREGATES)
    _, shadowed = split_visible(lake_files_of(directory))
    assert shadowed, "the replaced run files are still there"
    assert compactor.step().deleted == 0 or all(os.path.exists(f.path) for f in shadowed)
    assert all(os.path.exists(f.path) for f in shadowed)
    ahead[0] += 601_000
    while compactor.step().files_written:
        ahead[0] += 1_000
    ahead[0] += 601_000
    compactor.step()
    assert not any(os.path.exists(f.path) for f in shadowed)
    assert fingerprints(layout) == before


def test_dead_letters_of_several_segments_per_run_are_compacted_whole(
    lake: DataLayout, tmp_path: Path
) -> None:
    layout = _copy(lake, tmp_path / "data")
    directory = layout.lake_table_dir(DEAD_LETTERS)
    directory.mkdir(parents=True, exist_ok=True)
    import polars as pl

    for run_id in (1, 2):
        for segment in ("a", "b"):
            pl.DataFrame(
                {"run_id": [run_id], "segment": [segment], "reason": ["x"], "payload": ["{}"]}
            ).write_parquet(directory / f"run-{run_id:012d}-{segment}.parquet")
    before = fingerprints(layout)
    assert before[DEAD_LETTERS][0] >= 4
    compactor = Compactor(layout, Ledger(layout.state_db), CompactionPolicy(grace_s=0), _now)
    while compactor.step().files_written:
        pass
    compactor.step()
    assert fingerprints(layout) == before
    assert all(f.compacted for f in lake_files_of(directory) if f.first <= 2)


def test_a_file_goes_a_grace_after_its_first_wider_copy_even_while_the_hour_grows(
    tmp_path: Path,
) -> None:
    # An open hour's compacted file is rewritten every few minutes with the newer runs; the
    # runs its first version already held must not wait for the newest version to age.
    layout = DataLayout(tmp_path / "data")
    directory = layout.lake_table_dir(MINUTE_AGGREGATES)
    directory.mkdir(parents=True)
    now_s = time.time()
    ages_s = {
        "run-000000000001.parquet": 900,
        "run-000000000002.parquet": 800,
        "run-000000000003.parquet": 300,
        "run-000000000004.parquet": 200,
        "compact-000000000001-000000000002.parquet": 700,
        "compact-000000000001-000000000004.parquet": 10,
    }
    for name, age_s in ages_s.items():
        (directory / name).touch()
        os.utime(directory / name, (now_s - age_s, now_s - age_s))
    compactor = Compactor(
        layout, Ledger(layout.state_db), CompactionPolicy(min_age_s=3600, grace_s=600), _now
    )
    assert compactor.step().deleted == 2
    assert sorted(p.name for p in directory.iterdir()) == [
        "compact-000000000001-000000000002.parquet",
        "compact-000000000001-000000000004.parquet",
        "run-000000000003.parquet",
        "run-000000000004.parquet",
    ]

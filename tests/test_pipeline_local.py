"""Local mode over real segment files, a real Beam run and the real state DuckDB."""

from __future__ import annotations

import json
import random
import time
import uuid
from pathlib import Path

import duckdb
import pytest

from marquee.layout import DataLayout
from pipelines.local_runner import LocalRunner
from tests.support.segments import golden_log_lines, random_split, totals, write_segments

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_golden_minute_totals_whatever_the_split_and_order(tmp_path: Path, seed: int) -> None:
    lines, expected = golden_log_lines()
    layout = DataLayout(tmp_path)
    runner = LocalRunner(layout, max_segments_per_run=2)
    write_segments(layout, random_split(lines, random.Random(seed)))
    assert runner.drain() >= 1
    assert totals(layout)["vod_g_1"] == expected["vod_g_1"]


def test_a_duplicate_in_a_later_run_counts_once(tmp_path: Path) -> None:
    lines, expected = golden_log_lines()
    layout = DataLayout(tmp_path)
    runner = LocalRunner(layout)
    write_segments(layout, [lines])
    runner.drain()
    write_segments(layout, [lines[:10]], start=100)
    stats = runner.run_once()
    assert stats is not None and stats.duplicates == 10
    assert totals(layout)["vod_g_1"] == expected["vod_g_1"]
    status = json.loads(layout.pipeline_status.read_text())
    assert status["runs_committed"] == 2
    assert status["events_read"] == 2 * len(lines) - (len(lines) - 10)
    assert status["duplicates"] == 1 + 10


def test_copies_in_different_segments_of_one_run_count_once(tmp_path: Path) -> None:
    """A run's segments are one element: copies spread over them meet without a shuffle."""
    lines, expected = golden_log_lines()
    layout = DataLayout(tmp_path)
    runner = LocalRunner(layout)
    write_segments(layout, [lines[:20], lines[20:], lines[5:15], lines[25:30]])
    stats = runner.run_once()
    assert stats is not None and stats.events_read == len(lines) + 15
    assert stats.duplicates == 1 + 15
    assert runner.run_once() is None
    assert totals(layout)["vod_g_1"] == expected["vod_g_1"]


def test_a_run_interrupted_before_commit_is_redone_not_doubled(tmp_path: Path) -> None:
    lines, expected = golden_log_lines()
    layout = DataLayout(tmp_path)
    runner = LocalRunner(layout)
    write_segments(layout, [lines[:20], lines[20:]])
    run = runner.ledger.plan([p.name for p in sorted(layout.log_dir.iterdir())], 1)
    assert run is not None
    # Crash after the outputs landed but before the ledger commit: do the work, skip commit.
    from pipelines.local_runner import RunOutputs

    outputs = RunOutputs(
        lake_dir=layout.lake_dir,
        seen_ids_file=runner.pending_dir / "crashed.ids.parquet",
        run_id=run.run_id,
        processed_at_ms=0,
        content_types_file=runner.pending_dir / "crashed.types.parquet",
    )
    runner._execute(run, outputs)
    restarted = LocalRunner(layout)
    assert restarted.drain() == 2
    assert totals(layout)["vod_g_1"] == expected["vod_g_1"]
    view_glob = str(layout.lake_dir / "view_summaries" / "*.parquet")
    played = duckdb.execute(
        "select sum(played_ms)::bigint from read_parquet(?) where content_id = 'vod_g_1'",
        [view_glob],
    ).fetchone()
    assert played == (expected["vod_g_1"]["played_ms"],), "the redo rewrote the view partials"
    with duckdb.connect(str(layout.state_db), read_only=True) as conn:
        states = conn.execute("select run_id, state from runs order by run_id").fetchall()
    assert states == [(1, "committed"), (2, "committed")]


def test_unusable_records_become_dead_letters_and_the_rest_counts(tmp_path: Path) -> None:
    lines, expected = golden_log_lines()
    layout = DataLayout(tmp_path)
    garbage = [b"{this is not json\n", b'{"type":"play_requested","content_id":"vod_g_1"}\n']
    # A segment whose records are all complete but one has an id that is not a UUID.
    bad_id = {**json.loads(lines[0]), "event_id": "not-a-uuid"}
    write_segments(layout, [lines + garbage, [*lines[1:3], json.dumps(bad_id).encode() + b"\n"]])
    stats = LocalRunner(layout).run_once()
    assert stats is not None and stats.dead_letters == 3
    assert totals(layout)["vod_g_1"] == expected["vod_g_1"]
    glob = str(layout.lake_dir / "dead_letters" / "*.parquet")
    reasons = duckdb.execute("select reason from read_parquet(?) order by 1", [glob]).fetchall()
    assert reasons == [
        ("invalid_event_id",),
        ("missing_required_field",),
        ("unparseable_record",),
    ]


def test_dead_letters_of_parseable_segments_name_their_segment(tmp_path: Path) -> None:
    """Every line parses, so the run is read in one query; its unusable records still
    leave as dead letters naming the segment that held them."""
    lines, expected = golden_log_lines()
    layout = DataLayout(tmp_path)
    bad_id = {**json.loads(lines[0]), "event_id": "not-a-uuid"}
    no_type = {key: value for key, value in json.loads(lines[1]).items() if key != "type"}
    bad = [json.dumps(record).encode() + b"\n" for record in (bad_id, no_type)]
    write_segments(layout, [lines[:20], [*lines[20:], *bad], lines[:5]])
    stats = LocalRunner(layout).run_once()
    assert stats is not None and stats.dead_letters == 2
    assert stats.events_read == len(lines) + 2 + 5
    assert totals(layout)["vod_g_1"] == expected["vod_g_1"]
    glob = str(layout.lake_dir / "dead_letters" / "*.parquet")
    letters = duckdb.execute(
        "select segment, reason from read_parquet(?) order by reason", [glob]
    ).fetchall()
    second = sorted(path.name for path in layout.log_dir.iterdir())[1]
    assert letters == [(second, "invalid_event_id"), (second, "missing_required_field")]


def test_nothing_to_do_returns_none(tmp_path: Path) -> None:
    assert LocalRunner(DataLayout(tmp_path)).run_once() is None


def happened_days_ago(lines: list[bytes], days: int) -> list[bytes]:
    """The same log lines as if the events had happened, and reached the API, `days`
    earlier (a history load)."""
    shifted = []
    for line in lines:
        record = json.loads(line)
        for field in ("event_time_ms", "client_ts_ms", "received_at_ms"):
            record[field] -= days * 86_400_000
        shifted.append(json.dumps(record).encode() + b"\n")
    return shifted


def received_at(lines: list[bytes], received_at_ms: int) -> list[bytes]:
    """Copies of these log lines received at another time (a client's retry)."""
    copies = []
    for line in lines:
        record = json.loads(line)
        record["received_at_ms"] = received_at_ms
        copies.append(json.dumps(record).encode() + b"\n")
    return copies


def test_forgetting_seen_ids_follows_received_at_not_the_wall_clock(tmp_path: Path) -> None:
    """A history load's ids, received days ago, survive the runner's forgetting pass, so a
    later copy still counts once; ids older than the window (the lateness horizon, 7 days)
    before the newest one go."""
    lines, expected = golden_log_lines()
    old = happened_days_ago(lines, 8)
    layout = DataLayout(tmp_path)
    runner = LocalRunner(layout)
    runner.runs_done = 99  # the next run ends with the pass every 100th run makes
    write_segments(layout, [old])
    assert runner.run_once() is not None
    write_segments(layout, [old[:10]], start=100)
    stats = runner.run_once()
    assert stats is not None and stats.duplicates == 10
    assert totals(layout)["vod_g_1"] == expected["vod_g_1"]

    fresh = json.loads(lines[0])
    fresh["event_id"] = str(uuid.uuid4())
    runner.runs_done = 99
    write_segments(layout, [[json.dumps(fresh).encode() + b"\n"]], start=200)
    runner.run_once()
    with duckdb.connect(str(layout.state_db), read_only=True) as conn:
        left = conn.execute("select event_id::varchar from seen_events").fetchall()
    assert left == [(fresh["event_id"],)], "ids 8 days older than the newest one were kept"


def test_a_copy_resent_days_later_within_the_lateness_horizon_counts_once(tmp_path: Path) -> None:
    """METRICS.md: an event id counts once however late it is re-sent within the horizon,
    even after the forgetting pass that follows a newer event."""
    lines, expected = golden_log_lines()
    layout = DataLayout(tmp_path)
    runner = LocalRunner(layout)
    first = happened_days_ago(lines, 3)
    write_segments(layout, [first])
    assert runner.run_once() is not None
    newer = json.loads(lines[0])
    newer["event_id"] = str(uuid.uuid4())
    runner.runs_done = 99  # the next run ends with the pass every 100th run makes
    write_segments(layout, [[json.dumps(newer).encode() + b"\n"]], start=100)
    assert runner.run_once() is not None
    write_segments(layout, [received_at(first[:10], int(time.time() * 1000))], start=200)
    stats = runner.run_once()
    assert stats is not None and stats.duplicates == 10
    expected_attempts = expected["vod_g_1"]["attempts"] + (newer["content_id"] == "vod_g_1")
    assert totals(layout)["vod_g_1"]["attempts"] == expected_attempts

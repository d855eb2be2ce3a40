"""Simulated history through the real segment log, the real validation and the real pipeline.

A small history (2 days x 5 creators, 0.1 events/s: about 17,000 events, two shards on two
worker processes) is built once per module; the checks recount what the simulator handed
out, independently of the pipeline, and compare it with the log, the quarantine and the lake.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import duckdb
import msgspec
import pytest

from marquee.catalog import CatalogStore
from marquee.eventlog.segments import iter_sealed_records, sealed_segments
from marquee.layout import DataLayout
from marquee.settings import Settings
from tools.history import HistoryMismatch, HistoryPlan, shard_windows
from tools.history.__main__ import main as history_main
from tools.history.build import BuildOptions, HistoryResult, build_history
from tools.simulator import INVALID_MARKER

pytestmark = pytest.mark.integration

END = date(2026, 1, 10)
PLAN = HistoryPlan.days_before(END, days=2, seed=7, creators=5)
OPTIONS = BuildOptions(
    workers=2, segment_max_bytes=1024 * 1024, progress_every_s=60, engine="scalar"
)
MINUTE_MS = 60_000
CREATOR_EVENT_TYPES = {"follow", "unfollow", "tip"}
MEASURES = {
    "attempts": "play_requested",
    "starts": "playback_started",
    "story_views": "story_viewed",
    "chat_messages": "chat_message",
    "ad_impressions": "ad_impression",
}


@dataclass(frozen=True)
class Built:
    settings: Settings
    result: HistoryResult
    generated_by_shard: list[list[dict[str, Any]]]
    """Every event the simulator handed out for each shard, recomputed independently."""

    @property
    def generated(self) -> list[dict[str, Any]]:
        return [event for events in self.generated_by_shard for event in events]

    @property
    def layout(self) -> DataLayout:
        return self.settings.layout


def _settings(data_dir: Path) -> Settings:
    return Settings(data_dir=data_dir, pseudonym_key="history-test-key")


def _build(data_dir: Path) -> Built:
    settings = _settings(data_dir)
    result = build_history(PLAN, settings, OPTIONS)
    generated_by_shard = [
        [event for _, events in shard_windows(PLAN, shard) for event in events]
        for shard in PLAN.shards()
    ]
    return Built(settings, result, generated_by_shard)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    return _build(tmp_path_factory.mktemp("history") / "data")


def _epoch_ms(ts: int | str) -> int:
    if isinstance(ts, int):
        return ts
    return int(datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp() * 1000)


def _valid(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [event for event in events if INVALID_MARKER not in event]


def _lake(layout: DataLayout, sql: str) -> list[tuple[Any, ...]]:
    glob = str(layout.lake_table_dir("minute_aggregates") / "*.parquet")
    with duckdb.connect() as conn:
        conn.read_parquet(glob, union_by_name=True).create_view("minute_aggregates")
        return conn.execute(sql).fetchall()


def test_every_generated_event_is_in_the_log_exactly_once(built: Built) -> None:
    valid = _valid(built.generated)
    assert len(valid) > 10_000, "the history is too small to say anything"
    in_log = Counter(
        msgspec.json.decode(record)["event_id"]
        for record in iter_sealed_records(built.layout.log_dir)
    )
    assert in_log == Counter(event["event_id"] for event in valid)
    assert built.result.generation.delivered == len(built.generated)
    assert built.result.generation.accepted == len(valid)


def test_shards_are_independent_traffic_streams(built: Built) -> None:
    """Each day is simulated on its own stream: were it the same random stream, the second
    day would repeat the first day's event ids and the pipeline would drop them as duplicates."""
    first, second = (
        {event["event_id"] for event in events if "event_id" in event}
        for events in built.generated_by_shard
    )
    assert first and second
    assert not first & second


def test_deliberately_invalid_events_are_quarantined_with_their_reason(built: Built) -> None:
    invalid = [event for event in built.generated if INVALID_MARKER in event]
    assert invalid, "the simulator's faults should include invalid events"
    quarantined = [
        msgspec.json.decode(record) for record in iter_sealed_records(built.layout.quarantine_dir)
    ]
    assert len(quarantined) == len(invalid) == built.result.generation.quarantined
    assert all(record["app_id"] == "history" and record["reason"] for record in quarantined)


def test_lake_minute_aggregates_equal_an_independent_count(built: Built) -> None:
    unique: dict[str, dict[str, Any]] = {}
    for event in _valid(built.generated):
        unique.setdefault(event["event_id"], event)
    expected: Counter[tuple[int, str, str]] = Counter()
    for event in unique.values():
        if event["type"] in CREATOR_EVENT_TYPES or event.get("content_id") is None:
            continue
        key = (_epoch_ms(event["ts"]) // MINUTE_MS, event["content_id"])
        for measure, event_type in MEASURES.items():
            if event["type"] == event_type:
                expected[(*key, measure)] += 1
        if event.get("played_ms"):
            expected[(*key, "played_ms")] += event["played_ms"]
    measures = [*MEASURES, "played_ms"]
    rows = _lake(
        built.layout,
        "select epoch_minute, content_id, "
        + ", ".join(f"sum({measure})" for measure in measures)
        + " from minute_aggregates group by all",
    )
    actual: Counter[tuple[int, str, str]] = Counter()
    for minute, content_id, *sums in rows:
        for measure, value in zip(measures, sums, strict=True):
            if value:
                actual[(minute, content_id, measure)] += int(value)
    assert sum(expected.values()) > 0
    assert actual == expected
    pipeline = built.result.pipeline
    assert pipeline is not None
    assert pipeline.events_read == len(_valid(built.generated))
    assert pipeline.duplicates == len(_valid(built.generated)) - len(unique)


def test_catalogue_names_every_creator_and_title_in_the_lake(built: Built) -> None:
    store = CatalogStore(built.layout.catalog_dir)
    assert store.path("creators").exists() and store.path("content").exists()
    creators = {record["creator_id"] for record in store.read("creators")}
    content = {record["content_id"] for record in store.read("content")}
    assert len(creators) == PLAN.creators
    in_lake = _lake(built.layout, "select distinct creator_id, content_id from minute_aggregates")
    assert in_lake
    assert {creator for creator, _ in in_lake} <= creators
    assert {title for _, title in in_lake} <= content


def test_same_seed_into_a_fresh_directory_is_identical(built: Built, tmp_path: Path) -> None:
    again = _build(tmp_path / "data")
    assert sorted(iter_sealed_records(again.layout.log_dir)) == sorted(
        iter_sealed_records(built.layout.log_dir)
    )
    assert sorted(iter_sealed_records(again.layout.quarantine_dir)) == sorted(
        iter_sealed_records(built.layout.quarantine_dir)
    )
    merged = (
        "select epoch_minute, content_id, platform, country, sum(attempts), sum(starts), "
        "sum(played_ms), sum(stalled_ms), sum(story_views), sum(ad_impressions) "
        "from minute_aggregates group by all order by all"
    )
    assert _lake(again.layout, merged) == _lake(built.layout, merged)
    for name in ("creators", "content"):
        assert (again.layout.catalog_dir / f"{name}.json").read_bytes() == (
            built.layout.catalog_dir / f"{name}.json"
        ).read_bytes()


def test_a_rerun_skips_written_days_and_another_world_is_refused(tmp_path: Path) -> None:
    settings = _settings(tmp_path / "data")
    plan = HistoryPlan.days_before(END, days=1, seed=7, creators=2)
    options = BuildOptions(workers=1, run_pipeline=False, progress_every_s=60, engine="scalar")
    first = build_history(plan, settings, options)
    assert first.shards_written == 1 and first.generation.delivered > 0
    segments = sealed_segments(settings.layout.log_dir)

    rerun = build_history(plan, settings, options)
    assert (rerun.shards_written, rerun.shards_skipped) == (0, 1)
    assert sealed_segments(settings.layout.log_dir) == segments

    appended = build_history(plan.extended(plan.end_ms + 3_600_000), settings, options)
    assert appended.shards_written == 1 and appended.generation.delivered > 0

    other_world = HistoryPlan.days_before(END, days=1, seed=8, creators=2)
    with pytest.raises(HistoryMismatch):
        build_history(other_world, settings, options)


def test_command_line_writes_a_history_and_prints_a_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--days", "1", "--creators", "2", "--end", END.isoformat(), "--workers", "1"]
    argv += ["--engine", "scalar"]
    data_dir = tmp_path / "data"
    assert history_main([*argv, "--data-dir", str(data_dir), "--no-run-pipeline"]) == 0
    out = capsys.readouterr().out
    assert "history summary" in out and "events generated" in out
    assert sealed_segments(DataLayout(data_dir).log_dir)
    assert history_main([*argv, "--data-dir", str(data_dir), "--end", "2999-01-01"]) == 2

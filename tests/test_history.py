"""Simulated history through the real segment log, the API's validation and the pipeline.

A small history (2 days x 8 creators at 0.3 events/s: about 50,000 events, two shards on
two worker processes) is built once per module. The checks regenerate the shards'
events independently (`shard_batches` is deterministic) and compare them with the log,
the quarantine, the catalogue and the lake; the records are compared with what the API's own
`ingest_events` writes for the same client JSON; and the traffic is compared with the
scalar simulator, the reference model kept as the oracle (event mix, heartbeat cadence,
sessions that add up).
"""

from __future__ import annotations

import itertools
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import duckdb
import msgspec
import polars as pl
import pytest

from marquee.catalog import CatalogStore
from marquee.eventlog.segments import iter_sealed_records, sealed_segments
from marquee.events import EventRejected, decode_events
from marquee.intake.enrich import Enricher, Pseudonymiser
from marquee.intake.ingest import ingest_events
from marquee.lake import DEAD_LETTERS, LAKE_TABLES
from marquee.layout import DataLayout
from marquee.settings import Settings
from tools.history import HistoryMismatch, HistoryPlan
from tools.history.__main__ import main as history_main
from tools.history.build import APP_ID, BuildOptions, HistoryResult, build_history, writer_config
from tools.history.shard import shard_batches, write_shard
from tools.simulator import INVALID_KINDS, INVALID_MARKER, Simulator
from tools.simulator.discovery import SURFACE_CTR

pytestmark = pytest.mark.integration

END = date(2026, 1, 10)
PLAN = HistoryPlan.days_before(END, days=2, seed=7, creators=8, rate=0.3)
OPTIONS = BuildOptions(workers=2, segment_max_bytes=1024 * 1024, progress_every_s=60)
KEY = "history-test-key"
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
    batches_by_shard: list[list[pl.DataFrame]]
    """What the vectorised engine hands out for each shard, regenerated independently."""

    @property
    def rows(self) -> pl.DataFrame:
        return pl.concat(
            [b for batches in self.batches_by_shard for b in batches], how="diagonal_relaxed"
        )

    @property
    def events(self) -> list[dict[str, Any]]:
        return [msgspec.json.decode(line) for line in self.rows["raw"].to_list()]

    @property
    def layout(self) -> DataLayout:
        return self.settings.layout


def _settings(data_dir: Path) -> Settings:
    return Settings(data_dir=data_dir, pseudonym_key=KEY)


def _regenerate(settings: Settings) -> list[list[pl.DataFrame]]:
    pseudonymise = Pseudonymiser(settings.resolved_pseudonym_key())
    return [list(shard_batches(PLAN, shard, APP_ID, pseudonymise)) for shard in PLAN.shards()]


def _build(data_dir: Path) -> Built:
    settings = _settings(data_dir)
    result = build_history(PLAN, settings, OPTIONS)
    return Built(settings, result, _regenerate(settings))


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    return _build(tmp_path_factory.mktemp("history-vector") / "data")


def test_every_generated_event_is_in_the_log_exactly_as_often_as_delivered(built: Built) -> None:
    rows = built.rows
    assert rows.height > 30_000, "the history is too small to say anything"
    in_log = Counter(
        msgspec.json.decode(record)["event_id"]
        for record in iter_sealed_records(built.layout.log_dir)
    )
    assert in_log == Counter(rows["event_id"].to_list())
    assert max(in_log.values()) == 2, "the simulator's duplicate deliveries are in the log"
    broken = int(rows["invalid"].sum())
    assert built.result.generation.delivered == rows.height + broken
    assert built.result.generation.accepted == rows.height
    # about the target rate: 0.3 events/s over two days
    assert 0.8 < rows.height / (0.3 * 2 * 86_400) < 1.25


def test_records_are_what_the_api_writes_for_the_same_events(built: Built) -> None:
    """Every record of the first shard equals `ingest_events` on the client JSON."""
    enricher = Enricher(Pseudonymiser(KEY.encode()), 300, 7 * 24 * 3600)
    api = bytearray()
    ours = bytearray()
    for batch in built.batches_by_shard[0]:
        for (received,), window in batch.group_by(["received_at_ms"], maintain_order=True):
            raw = [line.encode() for line in window["raw"].to_list()]
            result = ingest_events(raw, None, APP_ID, int(received), None, enricher)
            assert not result.rejected
            api += result.log_bytes
            ours += ("\n".join(window["record"].to_list()) + "\n").encode()
    assert len(api) > 1_000_000
    assert bytes(api) == bytes(ours)
    first_shard_log = sorted(iter_sealed_records(built.layout.log_dir))
    assert set(bytes(api).splitlines()) <= set(first_shard_log)


def test_every_event_passes_the_contract(built: Built) -> None:
    raw = [line.encode() for line in built.rows["raw"].to_list()]
    decoded = decode_events(raw)
    assert not [event for event in decoded if isinstance(event, EventRejected)]


def test_broken_copies_are_quarantined_with_the_reason_of_their_kind(built: Built) -> None:
    quarantined = [
        msgspec.json.decode(record) for record in iter_sealed_records(built.layout.quarantine_dir)
    ]
    assert len(quarantined) == int(built.rows["invalid"].sum()) > 20
    assert len(quarantined) == built.result.generation.quarantined
    by_kind: Counter[tuple[str, str]] = Counter()
    for record in quarantined:
        payload = msgspec.json.decode(record["payload"])
        by_kind[(payload[INVALID_MARKER], record["reason"])] += 1
    assert {kind for kind, _ in by_kind} == set(INVALID_KINDS)
    assert all(INVALID_KINDS[kind] == reason for kind, reason in by_kind)


def test_day_shards_share_no_event_id(built: Built) -> None:
    first, second = (
        {event_id for batch in batches for event_id in batch["event_id"].to_list()}
        for batches in built.batches_by_shard
    )
    assert first and second
    assert not first & second


def test_same_seed_into_a_fresh_directory_is_identical(built: Built, tmp_path: Path) -> None:
    settings = _settings(tmp_path / "data")
    again = build_history(PLAN, settings, BuildOptions(workers=1, run_pipeline=False))
    assert again.generation.delivered == built.result.generation.delivered
    for log in ("log_dir", "quarantine_dir"):
        assert sorted(iter_sealed_records(getattr(settings.layout, log))) == sorted(
            iter_sealed_records(getattr(built.layout, log))
        )


def test_a_shard_cut_short_by_a_crash_is_written_again_with_the_same_ids(tmp_path: Path) -> None:
    settings = _settings(tmp_path / "data")
    plan = HistoryPlan.days_before(END, days=1, seed=7, creators=4, rate=0.2)
    options = BuildOptions(workers=1, run_pipeline=False)
    settings.layout.ensure()

    class Crash(Exception):
        pass

    def crash(_: int) -> None:
        raise Crash  # the process dies after its first batch reached the log

    with pytest.raises(Crash):
        write_shard(plan, plan.shards()[0], writer_config(settings, options), crash)
    partial = {
        msgspec.json.decode(r)["event_id"] for r in iter_sealed_records(settings.layout.log_dir)
    }
    assert partial
    resumed = build_history(plan, settings, options)
    assert resumed.shards_written == 1
    fresh = _settings(tmp_path / "fresh")
    build_history(plan, fresh, options)
    fresh_ids = {
        msgspec.json.decode(r)["event_id"] for r in iter_sealed_records(fresh.layout.log_dir)
    }
    assert partial <= fresh_ids, "rewritten events keep their ids, so the pipeline dedups them"
    written = {
        msgspec.json.decode(r)["event_id"] for r in iter_sealed_records(settings.layout.log_dir)
    }
    assert written == fresh_ids


def test_every_lake_table_gets_rows(built: Built) -> None:
    pipeline = built.result.pipeline
    assert pipeline is not None
    assert pipeline.events_read == built.rows.height
    assert pipeline.duplicates == built.rows.height - built.rows["event_id"].n_unique()
    for table in LAKE_TABLES:
        if table == DEAD_LETTERS:
            continue
        files = list(built.layout.lake_table_dir(table).glob("*.parquet"))
        rows = sum(pl.scan_parquet(f).select(pl.len()).collect().item() for f in files)
        assert rows > 0, f"lake table {table} is empty"


def _mix(events: list[dict[str, Any]]) -> dict[str, float]:
    types = Counter(event["type"] for event in events if INVALID_MARKER not in event)
    views = types["play_requested"]
    return {kind: count / views for kind, count in types.items()}


def test_event_mix_follows_the_simulators_model(built: Built) -> None:
    """Events per view of each main type within a factor of two of the scalar simulator's
    (same world, a few hours of its traffic)."""
    ours = _mix(built.events)
    sim = Simulator(seed=PLAN.seed, creators=PLAN.creators, rate=20.0)
    start = PLAN.start_ms + 12 * 3_600_000
    scalar = _mix(sim.events_between(start, start + 2 * 3_600_000))
    for kind in (
        "heartbeat",
        "playback_started",
        "playback_ended",
        "quality_changed",
        "ad_break_started",
        "ad_impression",
        "ad_quartile",
        "story_viewed",
        "story_completed",
        "story_navigated",
        "reaction_added",
        "content_impression",
    ):
        assert 0.5 < ours[kind] / scalar[kind] < 2.0, (kind, ours[kind], scalar[kind])
    for kind in ("chat_message", "follow", "share", "playback_error", "ad_skipped", "tip"):
        assert ours.get(kind, 0) > 0, kind


def test_clips_cut_from_lives_are_catalogued_and_viewed_and_ads_come_in_every_format(
    built: Built,
) -> None:
    content = msgspec.json.decode((built.layout.catalog_dir / "content.json").read_bytes())
    by_id = {record["content_id"]: record for record in content}
    cut = {r["content_id"] for r in content if r.get("source_live_id")}
    assert cut, "some lives have clips cut from them"
    assert all(by_id[by_id[c]["source_live_id"]]["content_type"] == "live" for c in cut)
    views = Counter(e["content_id"] for e in built.events if e["type"] == "play_requested")
    assert sum(views[c] for c in cut) > 0, "clips cut from lives get views"
    formats = Counter(e.get("ad_format") for e in built.events if e["type"] == "ad_impression")
    assert set(formats) == {"linear", "squeezeback", "overlay"}
    assert formats["linear"] > formats["squeezeback"] > 0


def test_sessions_are_numbered_beat_every_ten_seconds_and_add_up(built: Built) -> None:
    sessions: dict[str, list[dict[str, Any]]] = defaultdict(list)
    seen: set[str] = set()
    for event in built.events:
        if "session_id" in event and event["event_id"] not in seen:
            seen.add(event["event_id"])
            sessions[event["session_id"]].append(event)
    gaps: list[int] = []
    completed_vod = 0
    seams = [shard.end_ms for shard in PLAN.shards()]
    for events in sessions.values():
        events.sort(key=lambda e: e["seq"])
        near_a_seam = any(0 <= seam - _ms(e["ts"]) < 20 * 60_000 for e in events for seam in seams)
        if events[0]["seq"] != 0 or near_a_seam:
            continue  # began in the warm-up, or lost its last (late) events at a shard's end
        assert events[0]["type"] == "play_requested"
        assert [e["seq"] for e in events] == list(range(len(events)))
        ticks = [_ms(e["ts"]) for e in events if e["type"] == "heartbeat"]
        gaps += [b - a for a, b in itertools.pairwise(ticks)]
        end = events[-1]
        ended = end["type"] == "playback_ended" and end["reason"] == "completed"
        if ended and end["content_type"] == "vod":
            completed_vod += 1
            played = sum(e.get("played_ms", 0) for e in events)
            assert end["playhead_ms"] == played  # played to the end, no seeks jump
    assert completed_vod > 10
    assert statistics.median(gaps) == 10_000
    assert sum(gap <= 10_000 for gap in gaps) / len(gaps) > 0.95


def _ms(ts: int | str) -> int:
    if isinstance(ts, int):
        return ts
    return int(datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp() * 1000)


def test_lake_minute_aggregates_equal_an_independent_count(built: Built) -> None:
    unique: dict[str, dict[str, Any]] = {}
    for event in built.events:
        unique.setdefault(event["event_id"], event)
    expected: Counter[tuple[int, str, str]] = Counter()
    for event in unique.values():
        if event["type"] in CREATOR_EVENT_TYPES or event.get("content_id") is None:
            continue
        key = (_ms(event["ts"]) // 60_000, event["content_id"])
        for measure, event_type in MEASURES.items():
            if event["type"] == event_type:
                expected[(*key, measure)] += 1
        if event.get("played_ms"):
            expected[(*key, "played_ms")] += event["played_ms"]
    measures = [*MEASURES, "played_ms"]
    rows = _minute_aggregates(
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


def test_catalogue_names_every_creator_and_title_in_the_lake(built: Built) -> None:
    store = CatalogStore(built.layout.catalog_dir)
    creators = {record["creator_id"] for record in store.read("creators")}
    content = {record["content_id"] for record in store.read("content")}
    assert len(creators) == PLAN.creators
    in_lake = _minute_aggregates(
        built.layout, "select distinct creator_id, content_id from minute_aggregates"
    )
    assert in_lake
    assert {creator for creator, _ in in_lake} <= creators
    assert {title for _, title in in_lake} <= content


def _minute_aggregates(layout: DataLayout, sql: str) -> list[tuple[Any, ...]]:
    glob = str(layout.lake_table_dir("minute_aggregates") / "*.parquet")
    with duckdb.connect() as conn:
        conn.read_parquet(glob, union_by_name=True).create_view("minute_aggregates")
        return conn.execute(sql).fetchall()


def test_a_rerun_skips_written_days_and_another_world_or_engine_is_refused(
    tmp_path: Path,
) -> None:
    settings = _settings(tmp_path / "data")
    plan = HistoryPlan.days_before(END, days=1, seed=7, creators=2, rate=0.1)
    options = BuildOptions(workers=1, run_pipeline=False, progress_every_s=60)
    first = build_history(plan, settings, options)
    assert first.shards_written == 1 and first.generation.delivered > 0
    segments = sealed_segments(settings.layout.log_dir)

    rerun = build_history(plan, settings, options)
    assert (rerun.shards_written, rerun.shards_skipped) == (0, 1)
    assert sealed_segments(settings.layout.log_dir) == segments

    appended = build_history(plan.extended(plan.end_ms + 3_600_000), settings, options)
    assert appended.shards_written == 1 and appended.generation.delivered > 0

    other_world = HistoryPlan.days_before(END, days=1, seed=8, creators=2, rate=0.1)
    with pytest.raises(HistoryMismatch, match="history of"):
        build_history(other_world, settings, options)

    manifest = settings.data_dir / "history" / "manifest.json"
    stored = msgspec.json.decode(manifest.read_bytes())
    manifest.write_bytes(msgspec.json.encode({**stored, "engine": "scalar"}))
    later = plan.extended(plan.end_ms + 2 * 3_600_000)
    with pytest.raises(HistoryMismatch, match="scalar engine, which is gone"):
        build_history(later, settings, options)


def test_command_line_prints_a_summary_and_refuses_a_future_end(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--days", "1", "--creators", "3", "--end", END.isoformat(), "--workers", "1"]
    data_dir = tmp_path / "data"
    assert history_main([*argv, "--data-dir", str(data_dir), "--no-run-pipeline"]) == 0
    out = capsys.readouterr().out
    assert "history summary" in out and "events/s" in out
    assert sealed_segments(DataLayout(data_dir).log_dir)
    assert history_main([*argv, "--data-dir", str(data_dir), "--end", "2999-01-01"]) == 2


def test_impressions_give_each_surface_its_ctr(built: Built) -> None:
    """Views from a surface / its impressions near the simulator's CTR of the surface."""
    valid = [event for event in built.events if INVALID_MARKER not in event]
    impressions = Counter(e["surface"] for e in valid if e["type"] == "content_impression")
    plays = Counter(e.get("surface") for e in valid if e["type"] == "play_requested")
    assert set(impressions) == set(SURFACE_CTR)
    for surface, expected in SURFACE_CTR.items():
        assert plays[surface] / impressions[surface] == pytest.approx(expected, rel=0.3), surface
    assert plays[None] > 0, "some plays name no surface"

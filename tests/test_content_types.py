"""One type per content: the catalogue's, else its first event's; conflicting events are set
aside as dead letters, never counted (pipelines/content_types.py, through local mode)."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pytest

from marquee.intake.enrich import Enricher, Pseudonymiser
from marquee.intake.ingest import ingest_events
from marquee.layout import DataLayout
from pipelines import content_types
from pipelines.local_runner import LocalRunner
from pipelines.records import parse_segment

pytestmark = pytest.mark.unit

MINUTE_MS = 60_000


def event(type_: str, at_ms: int, content_id: str, content_type: str, **fields: Any) -> Any:
    named: dict[str, Any] = {"content_id": content_id, "content_type": content_type}
    if type_ == "reaction_added":
        named = {"target_id": content_id, "target_type": content_type, "reaction": "fire"}
    elif type_ not in ("share",):
        named["session_id"] = fields.pop("session_id", f"s-{content_id}-{content_type}")
    return {
        "event_id": str(uuid.uuid4()),
        "type": type_,
        "ts": at_ms,
        "viewer_id": "v1",
        "platform": "web",
        "creator_id": "cr_1",
        **named,
        **fields,
    }


def log_lines(events: list[dict[str, Any]], received_at_ms: int) -> bytes:
    """Events through the API's validation and enrichment, as the log keeps them."""
    enricher = Enricher(Pseudonymiser(b"k"), future_horizon_s=300, lateness_horizon_s=7 * 86400)
    raw = [json.dumps(e).encode() for e in events]
    result = ingest_events(raw, None, "app", received_at_ms, None, enricher)
    assert result.accepted == len(events), result.rejected
    return bytes(result.log_bytes)


def frame_of(events: list[dict[str, Any]], received_at_ms: int) -> pl.DataFrame:
    return parse_segment("t", log_lines(events, received_at_ms)).frame


def no_types() -> pl.DataFrame:
    return pl.DataFrame(schema=content_types.RECORDED_SCHEMA)


def test_the_first_event_decides_and_later_conflicting_events_are_set_aside() -> None:
    now = int(time.time() * 1000)
    story_first = frame_of([event("play_requested", now - 5_000, "c1", "story")], now - 4_000)
    vod_later = frame_of(
        [
            event("play_requested", now - 9_000, "c1", "vod"),  # earlier event time, later arrival
            event("reaction_added", now - 3_000, "c1", "story"),
        ],
        now - 2_000,
    )
    events = pl.concat([vod_later, story_first])
    kept, conflicting, decided = content_types.decide(
        events, content_types.named_types(events), no_types()
    )
    assert decided.rows() == [("c1", "story")]
    assert conflicting["type"].to_list() == ["play_requested"]
    assert conflicting["content_type"].to_list() == ["vod"]
    assert sorted(kept["type"].to_list()) == ["play_requested", "reaction_added"]


def test_a_known_type_wins_over_the_run_and_agreeing_runs_pass_untouched() -> None:
    now = int(time.time() * 1000)
    frame = frame_of(
        [
            event("play_requested", now - 9_000, "c1", "story"),
            event("play_requested", now - 8_000, "c2", "clip"),
        ],
        now - 1_000,
    )
    known = pl.DataFrame({"content_id": ["c1"], "content_type": ["vod"]})
    pairs = content_types.named_types(frame)
    kept, conflicting, decided = content_types.decide(frame, pairs, known)
    assert conflicting["content_id"].to_list() == ["c1"]
    assert kept["content_id"].to_list() == ["c2"]
    assert decided.rows() == [("c2", "clip")]

    agreeing = pl.DataFrame({"content_id": ["c1", "c2"], "content_type": ["story", "clip"]})
    kept, conflicting, decided = content_types.decide(frame, pairs, agreeing)
    assert kept is frame and conflicting.is_empty() and decided.is_empty()


def write_segment(layout: DataLayout, name_ms: int, data: bytes) -> None:
    layout.log_dir.mkdir(parents=True, exist_ok=True)
    (layout.log_dir / f"{name_ms:013d}-test0000-000000.seg").write_bytes(data)


def lake(layout: DataLayout, query: str) -> list[tuple[Any, ...]]:
    tables = {
        name: str(layout.lake_dir / name / "*.parquet")
        for name in ("minute_aggregates", "view_summaries", "dead_letters")
    }
    return duckdb.execute(query.format(**tables)).fetchall()


def test_local_mode_counts_one_type_per_content_across_runs_and_the_catalogue_wins(
    tmp_path: Path,
) -> None:
    layout = DataLayout(tmp_path)
    runner = LocalRunner(layout)
    now = int(time.time() * 1000)
    write_segment(layout, now, log_lines([event("play_requested", now - 60_000, "c1", "vod")], now))
    assert runner.run_once() is not None
    # A later run names c1 a story: set aside. c2 is new; the catalogue says c3 is a clip.
    layout.catalog_dir.mkdir(parents=True, exist_ok=True)
    layout.catalog_content_file.write_text(
        json.dumps([{"content_id": "c3", "creator_id": "cr_1", "content_type": "clip"}])
    )
    second = [
        event("story_viewed", now - 50_000, "c1", "story"),
        event("play_requested", now - 50_000, "c1", "vod", session_id="s2"),
        event("play_requested", now - 50_000, "c2", "live"),
        event("play_requested", now - 50_000, "c3", "vod"),
        event("play_requested", now - 50_000, "c3", "clip", session_id="s3"),
    ]
    write_segment(layout, now + 1, log_lines(second, now + 1))
    stats = runner.run_once()
    assert stats is not None and stats.dead_letters == 2

    counted = lake(
        layout,
        "select content_id, content_type, sum(attempts)::int, sum(story_views)::int "
        "from read_parquet('{minute_aggregates}') group by all order by 1",
    )
    assert counted == [("c1", "vod", 2, 0), ("c2", "live", 1, 0), ("c3", "clip", 1, 0)]
    views = lake(
        layout, "select content_id, content_type from read_parquet('{view_summaries}') order by 1"
    )
    assert ("c3", "vod") not in views and ("c1", "story") not in views
    letters = lake(
        layout,
        "select reason, json_extract_string(payload, '$.content_id'), "
        "json_extract_string(payload, '$.content_type') "
        "from read_parquet('{dead_letters}') order by 2",
    )
    assert letters == [
        ("content_type_conflict", "c1", "story"),
        ("content_type_conflict", "c3", "vod"),
    ]
    with duckdb.connect(str(layout.state_db), read_only=True) as conn:
        recorded = conn.execute(
            "select content_id, content_type from content_types order by 1"
        ).fetchall()
    assert recorded == [("c1", "vod"), ("c2", "live")]

"""METRICS.md points the shared golden scenario leaves open, through the real API, pipeline
and `dbt build` (`tests.support.golden.build_golden_warehouse`):

- percentiles: linear interpolation at position p·(n-1) of the sorted values;
- average bitrate: over the `played_ms` of `heartbeat` and `playback_ended` only (a
  `quality_changed` carries a bitrate but no played time);
- completion rate: over VOD, clip and story views only (a live view that ends
  `completed` is not counted);
- creator-day views and unique viewers: the creator's player sessions starting that day,
  story viewers not among them;
- a reaction to a story after its `deleted_at` is invalid, as after its expiry.

All times are a few hours before now, inside one UTC hour.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tests.support.golden import build_golden_warehouse

pytestmark = pytest.mark.integration

CREATOR = "cr_metrics"
VOD = "vod_metrics"
LIVE = "live_metrics"
DELETED_STORY = "story_deleted"
STORY = "story_kept"
STARTUPS_MS = [100, 200, 300, 1000]
"""p50 at position 1.5: 200 + 0.5 * 100 = 250; p95 at 2.85: 300 + 0.85 * 700 = 895."""


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def scenario(t0: datetime) -> dict[str, Any]:
    events: list[dict[str, Any]] = []

    def add(type_: str, offset_s: float, viewer: str, **fields: Any) -> None:
        events.append(
            {
                "event_id": str(uuid.uuid4()),
                "type": type_,
                "ts": iso(t0 + timedelta(seconds=offset_s)),
                "viewer_id": viewer,
                "platform": "web",
                "creator_id": CREATOR,
                **fields,
            }
        )

    def player(type_: str, offset_s: float, viewer: str, content: str, **fields: Any) -> None:
        kind = "live" if content == LIVE else "vod"
        add(type_, offset_s, viewer, content_id=content, content_type=kind, **fields)

    for n, startup in enumerate(STARTUPS_MS):
        at = 60.0 * n
        session = {"session_id": f"s_vod_{n}"}
        player("play_requested", at, f"p{n}", VOD, **session)
        player("playback_started", at + startup / 1000, f"p{n}", VOD, startup_ms=startup, **session)
        if n == 0:
            # 10 s at 2,000 kbps, a switch to 8,000 kbps with no played time, 5 s at 4,000.
            player("heartbeat", at + 10, "p0", VOD, played_ms=10_000, bitrate_kbps=2_000,
                   playhead_ms=10_000, **session)  # fmt: skip
            player("quality_changed", at + 11, "p0", VOD, bitrate_kbps=8_000, **session)
            player("playback_ended", at + 15, "p0", VOD, reason="completed", played_ms=5_000,
                   bitrate_kbps=4_000, playhead_ms=15_000, **session)  # fmt: skip
        else:
            player("playback_ended", at + 10, f"p{n}", VOD, reason="user_exit",
                   played_ms=10_000, bitrate_kbps=2_000, playhead_ms=10_000, **session)  # fmt: skip
    live = {"session_id": "s_live"}
    player("play_requested", 300, "p_live", LIVE, **live)
    player("playback_started", 300.5, "p_live", LIVE, startup_ms=500, **live)
    player("playback_ended", 330.5, "p_live", LIVE, reason="completed", played_ms=30_000, **live)

    for viewer, story, offset_s in (("v1", DELETED_STORY, 60), ("v2", DELETED_STORY, 120),
                                    ("v3", STORY, 120)):  # fmt: skip
        add("story_viewed", offset_s, viewer, content_id=story, content_type="story",
            story_id=story)  # fmt: skip
    for viewer, story, offset_s in (("v1", DELETED_STORY, 300), ("v2", DELETED_STORY, 900),
                                    ("v3", STORY, 900)):  # fmt: skip
        add("reaction_added", offset_s, viewer, target_id=story, target_type="story",
            reaction="fire")  # fmt: skip

    published = iso(t0 - timedelta(hours=1))
    expires = iso(t0 + timedelta(hours=23))
    return {
        "catalogue": {
            "creators": [{"creator_id": CREATOR, "name": "Metrics creator"}],
            "content": [
                {
                    "content_id": VOD,
                    "creator_id": CREATOR,
                    "content_type": "vod",
                    "duration_ms": 60_000,
                    "published_at": published,
                },
                {
                    "content_id": LIVE,
                    "creator_id": CREATOR,
                    "content_type": "live",
                    "published_at": published,
                },
                {
                    "content_id": DELETED_STORY,
                    "creator_id": CREATOR,
                    "content_type": "story",
                    "duration_ms": 15_000,
                    "published_at": published,
                    "expires_at": expires,
                    "deleted_at": iso(t0 + timedelta(minutes=10)),
                },
                {
                    "content_id": STORY,
                    "creator_id": CREATOR,
                    "content_type": "story",
                    "duration_ms": 15_000,
                    "published_at": published,
                    "expires_at": expires,
                },
            ],
        },
        "events_in_delivery_order": events,
    }


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    t0 = (datetime.now(UTC) - timedelta(hours=3)).replace(minute=0, second=0, microsecond=0)
    return build_golden_warehouse(tmp_path_factory.mktemp("metrics") / "data", scenario(t0))


def one_row(db: Path, sql: str) -> dict[str, Any]:
    with duckdb.connect(str(db), read_only=True) as connection:
        relation = connection.execute(sql)
        names = [column[0] for column in relation.description]
        rows = relation.fetchall()
    assert len(rows) == 1, rows
    return dict(zip(names, rows[0], strict=True))


def test_startup_percentiles_interpolate_linearly_at_p_times_n_minus_1(warehouse: Path) -> None:
    row = one_row(warehouse, f"select * from content_daily_qoe where content_id = '{VOD}'")
    assert row["views"] == len(STARTUPS_MS)
    assert row["startup_p50_ms"] == pytest.approx(250.0)
    assert row["startup_p95_ms"] == pytest.approx(895.0)


def test_average_bitrate_weighs_only_heartbeat_and_playback_ended(warehouse: Path) -> None:
    row = one_row(warehouse, "select * from playback_sessions where session_id = 's_vod_0'")
    assert row["avg_bitrate_kbps"] == pytest.approx((2_000 * 10_000 + 4_000 * 5_000) / 15_000)


def test_completion_rate_counts_vod_clip_and_story_views_only(warehouse: Path) -> None:
    live = one_row(warehouse, "select * from playback_sessions where session_id = 's_live'")
    assert live["is_completed"] is True  # ended `completed`, yet not in any completion rate
    creator = one_row(
        warehouse, f"select * from creator_daily_performance where creator_id = '{CREATOR}'"
    )
    assert creator["completion_rate_pct"] == pytest.approx(25.0)  # 1 of 4 VOD views


def test_creator_day_views_and_unique_viewers_are_player_sessions(warehouse: Path) -> None:
    creator = one_row(
        warehouse, f"select * from creator_daily_performance where creator_id = '{CREATOR}'"
    )
    assert creator["views"] == len(STARTUPS_MS) + 1
    assert creator["unique_viewers"] == len(STARTUPS_MS) + 1  # v1..v3 only viewed stories
    assert creator["story_reach"] == 3


def test_a_reaction_after_the_story_was_deleted_is_invalid(warehouse: Path) -> None:
    deleted = one_row(warehouse, f"select * from stories where story_id = '{DELETED_STORY}'")
    assert (deleted["valid_reactions"], deleted["invalid_reactions"]) == (1, 1)
    kept = one_row(warehouse, f"select * from stories where story_id = '{STORY}'")
    assert (kept["valid_reactions"], kept["invalid_reactions"]) == (1, 0)

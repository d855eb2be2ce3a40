"""Views, live sessions and creator days as METRICS.md defines them, through the real API,
pipeline and `dbt build` (`tests.support.golden.build_golden_warehouse`).

One creator's content around a UTC midnight (`midnight`: the start of the day before today's,
so every event is 23 to 25 hours old):

- a VOD view requested twice (a player retry) just before midnight and played after it:
  one view, on the day before; a VOD view after midnight whose `play_requested` was lost:
  still a view;
- a live stream: chat a minute after midnight before any playback, two views (one asking
  to play twice), a paused heartbeat and the end of a view three minutes after the last
  played time, a reaction half an hour later; follows and tips inside and outside it;
- a story viewed by a and b before midnight and by a and c after it, with valid reactions
  after midnight by a and by b (who did not view it again that day).

Every `views` column, and the Creators dashboard, must count playback sessions; play
requests are named `play_requests`.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from dashboards.queries import creators as creator_queries
from tests.support.golden import build_golden_warehouse

pytestmark = pytest.mark.integration

CREATOR = "cr_views"
VOD = "vod_views"
LIVE = "live_views"
STORY = "story_views"
VOD_DURATION_MS = 60_000


def scenario_midnight(now: datetime | None = None) -> datetime:
    """The start of the UTC day before today's: 24 to 48 hours before now."""
    now = now or datetime.now(UTC)
    return now.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=1)


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def scenario(midnight: datetime) -> dict[str, Any]:
    events: list[dict[str, Any]] = []

    def add(type_: str, offset_s: float, viewer: str, **fields: Any) -> None:
        events.append(
            {
                "event_id": str(uuid.uuid4()),
                "type": type_,
                "ts": iso(midnight + timedelta(seconds=offset_s)),
                "viewer_id": viewer,
                "platform": "web",
                "creator_id": CREATOR,
                **fields,
            }
        )

    def vod(type_: str, offset_s: float, viewer: str, session: str, **fields: Any) -> None:
        add(type_, offset_s, viewer, content_id=VOD, content_type="vod", session_id=session,
            **fields)  # fmt: skip

    def live(type_: str, offset_s: float, viewer: str, **fields: Any) -> None:
        add(type_, offset_s, viewer, content_id=LIVE, content_type="live", **fields)

    def story(type_: str, offset_s: float, viewer: str, **fields: Any) -> None:
        add(type_, offset_s, viewer, content_id=STORY, content_type="story", **fields)

    # VOD: s_v1 requested twice before midnight, played after it; s_v2 without a request.
    vod("play_requested", -3, "w3", "s_v1")
    vod("play_requested", -2, "w3", "s_v1")
    vod("playback_started", 0.5, "w3", "s_v1", startup_ms=2_500)
    vod("playback_ended", 60.5, "w3", "s_v1", reason="completed", played_ms=60_000,
        playhead_ms=VOD_DURATION_MS)  # fmt: skip
    vod("playback_started", 600, "w4", "s_v2", startup_ms=400)
    vod("playback_ended", 630, "w4", "s_v2", reason="user_exit", played_ms=30_000,
        playhead_ms=30_000)  # fmt: skip

    # Live: chat in minute 1, playback in minutes 3 to 5, s_l1's paused tail to minute 8.
    live("chat_message", 70, "c1", live_id=LIVE, length=5)
    live("play_requested", 180, "w1", session_id="s_l1")
    live("play_requested", 182, "w1", session_id="s_l1")
    live("playback_started", 182.5, "w1", session_id="s_l1", startup_ms=500)
    live("heartbeat", 240, "w1", session_id="s_l1", played_ms=57_500, state="playing")
    live("heartbeat", 300, "w1", session_id="s_l1", played_ms=60_000, state="playing")
    live("heartbeat", 450, "w1", session_id="s_l1", played_ms=0, state="paused")
    live("playback_ended", 490, "w1", session_id="s_l1", reason="user_exit", played_ms=0)
    live("play_requested", 240, "w2", session_id="s_l2")
    live("playback_started", 241, "w2", session_id="s_l2", startup_ms=1_000)
    live("playback_ended", 300, "w2", session_id="s_l2", reason="completed", played_ms=59_000)
    live("reaction_added", 1_800, "c1", target_id=LIVE, target_type="live", reaction="fire")
    add("follow", 120, "f1")
    add("follow", 1_200, "f2")
    add("tip", 360, "t1", amount_minor=500, currency="EUR")
    add("tip", 361, "t2", amount_minor=300, currency="USD")
    add("tip", 1_500, "t3", amount_minor=900, currency="EUR")

    # Story: a and b view it before midnight; a again and c after; a and b react after.
    story("story_viewed", -300, "a", story_id=STORY, position=0)
    story("story_viewed", -240, "b", story_id=STORY, position=0)
    story("story_viewed", 120, "a", story_id=STORY, position=0)
    story("story_viewed", 240, "c", story_id=STORY, position=0)
    for viewer, offset_s in (("b", 60), ("a", 180)):
        story("reaction_added", offset_s, viewer, target_id=STORY, target_type="story",
              reaction="fire")  # fmt: skip

    published = iso(midnight - timedelta(hours=2))
    return {
        "catalogue": {
            "creators": [{"creator_id": CREATOR, "name": "Views creator"}],
            "content": [
                {
                    "content_id": VOD,
                    "creator_id": CREATOR,
                    "content_type": "vod",
                    "duration_ms": VOD_DURATION_MS,
                    "published_at": published,
                },
                {
                    "content_id": LIVE,
                    "creator_id": CREATOR,
                    "content_type": "live",
                    "published_at": published,
                },
                {
                    "content_id": STORY,
                    "creator_id": CREATOR,
                    "content_type": "story",
                    "duration_ms": 15_000,
                    "published_at": published,
                    "expires_at": iso(midnight + timedelta(hours=20)),
                },
            ],
        },
        "events_in_delivery_order": events,
    }


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[datetime, Path]:
    midnight = scenario_midnight()
    data_dir = tmp_path_factory.mktemp("golden-views") / "data"
    return midnight, build_golden_warehouse(data_dir, scenario(midnight))


def rows(db: Path, sql: str, *params: Any) -> list[dict[str, Any]]:
    with duckdb.connect(str(db), read_only=True) as connection:
        relation = connection.execute(sql, list(params))
        names = [column[0] for column in relation.description]
        return [dict(zip(names, row, strict=True)) for row in relation.fetchall()]


def days(midnight: datetime) -> tuple[date, date]:
    return (midnight - timedelta(days=1)).date(), midnight.date()


def test_views_count_sessions_by_start_day_and_play_requests_are_named_so(
    built: tuple[datetime, Path],
) -> None:
    midnight, db = built
    before, after = days(midnight)
    assert rows(
        db,
        "select day, play_requests, starts from content_daily_performance"
        " where content_id = ? order by day",
        VOD,
    ) == [
        {"day": before, "play_requests": 2, "starts": 0},
        {"day": after, "play_requests": 0, "starts": 2},
    ]
    assert rows(
        db,
        "select view_date, views from content_daily_qoe where content_id = ? order by 1",
        VOD,
    ) == [{"view_date": before, "views": 1}, {"view_date": after, "views": 1}]
    creator_days = rows(
        db,
        "select day, views, unique_viewers, completion_rate_pct"
        " from creator_daily_performance where creator_id = ? order by day",
        CREATOR,
    )
    # After midnight: s_v2 and the two live views; w1, w2, w4 (story viewers are not
    # viewers here); completion over the VOD view only (the live s_l2 ended `completed`).
    assert creator_days == [
        {"day": before, "views": 1, "unique_viewers": 1, "completion_rate_pct": 100.0},
        {"day": after, "views": 3, "unique_viewers": 3, "completion_rate_pct": 0.0},
    ]
    with duckdb.connect(str(db), read_only=True) as connection:
        dashboard = connection.execute(
            creator_queries.LEADERBOARD_SQL, [before, after, None, None]
        ).fetchall()
    assert [(creator, views) for creator, views, *_ in dashboard] == [(CREATOR, 4)]


def test_live_session_runs_from_its_first_to_its_last_player_or_chat_event(
    built: tuple[datetime, Path],
) -> None:
    midnight, db = built
    (session,) = rows(db, "select * from live_sessions where live_id = ?", LIVE)
    first_minute = int(midnight.timestamp()) // 60 + 1
    watched_ms = (500 + 57_500 + 60_000) + (1_000 + 59_000)
    played_ms = 57_500 + 60_000 + 59_000
    assert (session["first_minute"], session["last_minute"]) == (first_minute, first_minute + 7)
    assert session["stream_minutes"] == 8
    assert (session["views"], session["play_requests"], session["unique_viewers"]) == (2, 3, 2)
    assert session["watched_ms"] == watched_ms
    assert session["minutes_watched"] == pytest.approx(watched_ms / 60_000)
    assert session["avg_concurrent_viewers"] == pytest.approx(played_ms / 60_000 / 8)
    assert session["peak_concurrent_viewers"] == pytest.approx((60_000 + 59_000) / 60_000)
    assert (session["chat_messages"], session["chatters"]) == (1, 1)
    assert (session["follows"], session["tips"], session["tip_currencies"]) == (1, 2, 2)
    tips = rows(
        db,
        "select currency, tips, tips_amount_minor from live_session_tips"
        " where live_id = ? order by currency",
        LIVE,
    )
    assert tips == [
        {"currency": "EUR", "tips": 1, "tips_amount_minor": 500},
        {"currency": "USD", "tips": 1, "tips_amount_minor": 300},
    ]
    curve = rows(
        db,
        "select minutes_since_start, avg_concurrent_viewers from live_minute_retention"
        " where live_id = ? order by 1",
        LIVE,
    )
    # Minutes after midnight with played time; minute 0 of the session is minute 1.
    concurrent = {4: 57_500 / 60_000, 5: 119_000 / 60_000}
    assert [row["minutes_since_start"] for row in curve] == list(range(8))
    for row in curve:
        minute = row["minutes_since_start"] + 1
        assert row["avg_concurrent_viewers"] == pytest.approx(concurrent.get(minute, 0.0)), minute


def test_creator_story_reach_and_reaction_rate_are_of_the_same_day(
    built: tuple[datetime, Path],
) -> None:
    """Before midnight a and b view the story and nobody reacts: 0 of 2. After it a and c
    view it and a reacts: 1 of 2 = 50 %; b's valid reaction that day counts as a reaction,
    not as a reactor of a reach b is not in."""
    midnight, db = built
    before, after = days(midnight)
    creator_days = rows(
        db,
        "select day, story_reach, reaction_rate_pct, valid_reactions"
        " from creator_daily_performance where creator_id = ? order by day",
        CREATOR,
    )
    assert creator_days == [
        {"day": before, "story_reach": 2, "reaction_rate_pct": 0.0, "valid_reactions": 0},
        {"day": after, "story_reach": 2, "reaction_rate_pct": 50.0, "valid_reactions": 3},
    ]

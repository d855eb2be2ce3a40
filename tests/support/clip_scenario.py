"""A scenario of clips cut from a live session, with views within and beyond 7 days.

`live` is a minute start nine days before now (so the scenario needs a lateness horizon
wider than the default 7 days: `HORIZON_ENV`). Creator cr_clips streams live_clips from
`live` (one view) and live_quiet a day later (one view, no clip). Clips clip_a and clip_b
are cut from live_clips; clip_stray names a live with no session. Clip views:

- clip_a by viewer v_a at live + 1 h (played 30 s) and by v_b at live + 6 d 23 h (played 20 s);
- clip_b by v_a at live + 2 d (played 10 s): v_a watched both clips, one distinct viewer;
- clip_b by v_c at live + 7 d + 1 h (played 40 s): beyond the window, not counted;
- clip_stray by v_d at live + 1 h: its live has no session, so it is in no row.

Every view starts 500 ms before its first frame, so its watched time is played + 500 ms.
`EXPECTED` holds what live_session_clips must show, worked out by hand from the above.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

CREATOR = "cr_clips"
LIVE = "live_clips"
QUIET_LIVE = "live_quiet"
HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
HORIZON_ENV = {"MARQUEE_LATENESS_HORIZON_S": str(10 * 86_400)}
"""Accept events up to 10 days old: the live is 9 days before now."""

EXPECTED: dict[str, dict[str, int]] = {
    LIVE: {
        "clips": 2,
        "clips_viewed": 2,
        "clip_views": 3,
        "clip_unique_viewers": 2,
        "clip_watched_ms": 30_500 + 20_500 + 10_500,
    },
    QUIET_LIVE: {
        "clips": 0,
        "clips_viewed": 0,
        "clip_views": 0,
        "clip_unique_viewers": 0,
        "clip_watched_ms": 0,
    },
}


def live_start(now: datetime | None = None) -> datetime:
    """The live's first minute: nine days before now, on a minute boundary."""
    now = now or datetime.now(UTC)
    return now.replace(second=0, microsecond=0) - timedelta(days=9)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + (
        f"{moment.microsecond // 1000:03d}Z"
    )


def clip_scenario(now: datetime | None = None) -> dict[str, Any]:
    """The scenario in `tests.support.golden.build_golden_warehouse`'s format."""
    start = live_start(now)
    events: list[dict[str, Any]] = []

    def view(
        content_id: str, content_type: str, viewer: str, offset_ms: int, played_ms: int
    ) -> None:
        at = {
            "creator_id": CREATOR,
            "content_id": content_id,
            "content_type": content_type,
            "session_id": f"s_{content_id}_{viewer}_{offset_ms}",
            "viewer_id": viewer,
            "platform": "web",
            "country": "DE",
        }

        def add(type_: str, at_ms: int, **fields: Any) -> None:
            moment = start + timedelta(milliseconds=at_ms)
            events.append(
                {"event_id": str(uuid.uuid4()), "type": type_, "ts": iso(moment), **at, **fields}
            )

        add("play_requested", offset_ms)
        add("playback_started", offset_ms + 500, startup_ms=500)
        add(
            "playback_ended",
            offset_ms + 500 + played_ms,
            reason="user_exit",
            played_ms=played_ms,
            playhead_ms=played_ms,
        )

    view(LIVE, "live", "v_live", 1_000, 600_000)
    view(QUIET_LIVE, "live", "v_live", DAY_MS, 300_000)
    view("clip_a", "clip", "v_a", HOUR_MS, 30_000)
    view("clip_a", "clip", "v_b", 6 * DAY_MS + 23 * HOUR_MS, 20_000)
    view("clip_b", "clip", "v_a", 2 * DAY_MS, 10_000)
    view("clip_b", "clip", "v_c", 7 * DAY_MS + HOUR_MS, 40_000)
    view("clip_stray", "clip", "v_d", HOUR_MS, 15_000)

    published = iso(start - timedelta(minutes=5))
    clip = {"creator_id": CREATOR, "content_type": "clip", "duration_ms": 60_000}
    catalogue = {
        "creators": [{"creator_id": CREATOR, "name": "Clip Maker"}],
        "content": [
            {"content_id": LIVE, "creator_id": CREATOR, "content_type": "live",
             "title": "Launch stream", "published_at": published},
            {"content_id": QUIET_LIVE, "creator_id": CREATOR, "content_type": "live",
             "title": "Quiet stream"},
            {**clip, "content_id": "clip_a", "title": "Best moment", "source_live_id": LIVE},
            {**clip, "content_id": "clip_b", "title": "Second moment", "source_live_id": LIVE},
            {**clip, "content_id": "clip_stray", "source_live_id": "live_elsewhere"},
        ],
    }  # fmt: skip
    return {"catalogue": catalogue, "events_in_delivery_order": events, "live_start": start}

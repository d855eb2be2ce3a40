"""A feed click-through scenario (METRICS.md, "Discovery"), with times relative to now.

Day D is the UTC day before yesterday, D+1 yesterday. Creator cr_a owns vod_a1 and clip_a2,
creator cr_b owns vod_b1 (catalogue). The expected marts:

| day | content | surface | impressions | views | ctr |
|---|---|---|---|---|---|
| D | vod_a1 | feed | 4 (one retried copy more) | 1 | 0.25 |
| D | vod_a1 | search | 2 (one names cr_b: the catalogue's owner wins) | 1 | 0.5 |
| D | vod_a1 | profile | 0 | 1 | none |
| D | clip_a2 | profile | 0 | 2 | none |
| D | vod_b1 | tray | 3 | 3 (one's play_requested arrives late) | 1.0 |
| D | vod_b1 | feed | 0 | 1 | none |
| D+1 | vod_a1 | feed | 2 | 0 | 0.0 |

Also a view of vod_a1 without a surface on D (in no CTR) and a feed view of vod_a1 that
starts at 23:59:30 on D-1 (its day has no impressions; D's feed CTR does not count it).
Per creator and day: cr_a on D feed 4 / 1, search 2 / 1, profile 0 / 3, total 6; cr_b on
D tray 3 / 3, feed 0 / 1, total 3; cr_a on D+1 feed 2 / 0, total 2.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

DAY_MS = 86_400_000

CATALOGUE_CONTENT = [
    {"content_id": "vod_a1", "creator_id": "cr_a", "content_type": "vod", "title": "A one"},
    {"content_id": "clip_a2", "creator_id": "cr_a", "content_type": "clip", "title": "A two"},
    {"content_id": "vod_b1", "creator_id": "cr_b", "content_type": "vod", "title": "B one"},
]
CATALOGUE_CREATORS = [
    {"creator_id": "cr_a", "name": "Creator A"},
    {"creator_id": "cr_b", "name": "Creator B"},
]
OWNER = {row["content_id"]: (row["creator_id"], row["content_type"]) for row in CATALOGUE_CONTENT}


_DAY_D = datetime.now(UTC).date() - timedelta(days=2)


def day_d() -> date:
    """Day d: two UTC days before the day the test session started. Taken once, so that a
    scenario built just before midnight is read back with the same days just after it."""
    return _DAY_D


def at(day: date, hour: int, minute: int, second: int = 0) -> int:
    """Epoch milliseconds of a time of a UTC day."""
    moment = datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def _event(type_: str, ts: int, content_id: str, viewer: str, **fields: Any) -> dict[str, Any]:
    creator_id, content_type = OWNER[content_id]
    return {
        "event_id": str(uuid.uuid4()),
        "type": type_,
        "ts": ts,
        "viewer_id": viewer,
        "platform": "android",
        "country": "DE",
        "creator_id": creator_id,
        "content_id": content_id,
        "content_type": content_type,
        **fields,
    }


def impression(
    ts: int, content_id: str, surface: str, viewer: str, **fields: Any
) -> dict[str, Any]:
    return _event("content_impression", ts, content_id, viewer, surface=surface, **fields)


def view(ts: int, content_id: str, surface: str | None, viewer: str) -> list[dict[str, Any]]:
    """A played view: play_requested (with the surface, if any), started, ended."""
    session = f"s_{uuid.uuid4().hex[:12]}"
    requested: dict[str, Any] = {"surface": surface} if surface else {}
    return [
        _event("play_requested", ts, content_id, viewer, session_id=session, **requested),
        _event("playback_started", ts + 800, content_id, viewer, session_id=session,
               startup_ms=800),
        _event("playback_ended", ts + 30_800, content_id, viewer, session_id=session,
               reason="completed", played_ms=30_000),
    ]  # fmt: skip


def scenario() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(events on time, events delivered late: in a later batch, hours after the rest)."""
    d = day_d()
    d1 = d + timedelta(days=1)
    retried = impression(at(d, 9, 0), "vod_a1", "feed", "v1", list_position=0)
    on_time = [
        retried,
        dict(retried),  # the client's retry: the same event id, counted once
        impression(at(d, 9, 0, 5), "vod_a1", "feed", "v2", list_position=3),
        impression(at(d, 14, 30), "vod_a1", "feed", "v3", list_position=1),
        impression(at(d, 23, 59, 50), "vod_a1", "feed", "v4", list_position=7),
        impression(at(d, 10, 0), "vod_a1", "search", "v1", list_position=0),
        {**impression(at(d, 10, 1), "vod_a1", "search", "v5"), "creator_id": "cr_b"},
        impression(at(d, 11, 0), "vod_b1", "tray", "v1", list_position=0),
        impression(at(d, 11, 0, 1), "vod_b1", "tray", "v2", list_position=1),
        impression(at(d, 11, 0, 2), "vod_b1", "tray", "v3", list_position=2),
        impression(at(d1, 8, 0), "vod_a1", "feed", "v1", list_position=0),
        impression(at(d1, 8, 0, 1), "vod_a1", "feed", "v6", list_position=4),
        *view(at(d, 9, 0, 10), "vod_a1", "feed", "v2"),
        *view(at(d, 10, 0, 30), "vod_a1", "search", "v1"),
        *view(at(d, 12, 0), "vod_a1", "profile", "v7"),
        *view(at(d, 12, 5), "vod_a1", None, "v8"),
        *view(at(d, 12, 10), "clip_a2", "profile", "v7"),
        *view(at(d, 12, 20), "clip_a2", "profile", "v8"),
        *view(at(d, 11, 0, 30), "vod_b1", "tray", "v1"),
        *view(at(d, 11, 1), "vod_b1", "tray", "v2"),
        *view(at(d, 13, 0), "vod_b1", "feed", "v9"),
        *view(at(d - timedelta(days=1), 23, 59, 30), "vod_a1", "feed", "v9"),
    ]
    late_view = view(at(d, 11, 2), "vod_b1", "tray", "v3")
    # The late view's play_requested comes hours after its other events: its surface
    # still reaches the view's summary through the merge.
    return on_time + late_view[1:], late_view[:1]


EXPECTED_CONTENT_DAYS = {
    # (day offset from D, content, surface): (impressions, surfaced views, ctr)
    (0, "vod_a1", "feed"): (4, 1, 0.25),
    (0, "vod_a1", "search"): (2, 1, 0.5),
    (0, "vod_a1", "profile"): (0, 1, None),
    (0, "clip_a2", "profile"): (0, 2, None),
    (0, "vod_b1", "tray"): (3, 3, 1.0),
    (0, "vod_b1", "feed"): (0, 1, None),
    (1, "vod_a1", "feed"): (2, 0, 0.0),
    (-1, "vod_a1", "feed"): (0, 1, None),
}

EXPECTED_CREATOR_DAYS = {
    # (day offset, creator, surface): (impressions, surfaced views, ctr)
    (0, "cr_a", "feed"): (4, 1, 0.25),
    (0, "cr_a", "search"): (2, 1, 0.5),
    (0, "cr_a", "profile"): (0, 3, None),
    (0, "cr_b", "tray"): (3, 3, 1.0),
    (0, "cr_b", "feed"): (0, 1, None),
    (1, "cr_a", "feed"): (2, 0, 0.0),
    (-1, "cr_a", "feed"): (0, 1, None),
}

EXPECTED_CREATOR_TOTALS = {(0, "cr_a"): 6, (0, "cr_b"): 3, (1, "cr_a"): 2, (-1, "cr_a"): 0}
"""Impressions in total per creator and day offset."""

EXPECTED_IMPRESSIONS_LAKE = {
    # (day offset, content, surface, creator named by the events): impressions
    (0, "vod_a1", "feed", "cr_a"): 4,
    (0, "vod_a1", "search", "cr_a"): 1,
    (0, "vod_a1", "search", "cr_b"): 1,
    (0, "vod_b1", "tray", "cr_b"): 3,
    (1, "vod_a1", "feed", "cr_a"): 2,
}
"""What the pipeline lands: the creator as the events name it (dbt resolves the owner)."""


def golden_scenario() -> dict[str, Any]:
    """The scenario as `tests.support.golden.build_golden_warehouse` takes it: the late
    `play_requested` delivered last."""
    on_time, late = scenario()
    return {
        "catalogue": {"creators": CATALOGUE_CREATORS, "content": CATALOGUE_CONTENT},
        "events_in_delivery_order": on_time + late,
    }


_BUILT: dict[str, Path] = {}


def impression_data_dir(base_dir: Callable[[], Path]) -> Path:
    """A data directory whose published warehouse is this scenario's real build (API,
    pipeline, dbt), built once per test session and shared by the page tests; `base_dir`
    makes a fresh directory and is called only for the first build."""
    if "data" not in _BUILT:
        from marquee.layout import DataLayout
        from tests.support.golden import build_golden_warehouse

        data_dir = base_dir() / "data"
        dbt_db = build_golden_warehouse(data_dir, golden_scenario())
        shutil.copyfile(dbt_db, DataLayout(data_dir).serving_db)
        _BUILT["data"] = data_dir
    return _BUILT["data"]

"""A live latency scenario (METRICS.md "Live latency"): events, and its figures by hand.

One live stream watched by two viewers over two UTC minutes, two hours before the run:

- minute 0: latencies 2000, 3000, 4000, 10000 (viewer A) and 2500, 2500 (viewer B), and
  6000 from viewer B delivered late (`LATE`: a later batch than the rest);
- minute 1: 5000, 1000, 3000;
- not counted: a retry of the 10000 heartbeat (same event id), a live heartbeat without
  the field, a VOD heartbeat carrying the field (live only), and the field on a
  `playback_ended` (heartbeats only: the contract has no such field there).

Per minute, p = linear interpolation at position p * (n - 1) of the sorted values:
minute 0 sorted [2000, 2500, 2500, 3000, 4000, 6000, 10000]: p50 3000, p95 6000 + 0.7 *
4000 = 8800; minute 1 [1000, 3000, 5000]: p50 3000, p95 3000 + 0.9 * 2000 = 4800. The
session's ten values: p50 at 4.5 = 3000, p95 at 8.55 = 6000 + 0.55 * 4000 = 8200 (an
average of the minute p95s would give 6800).
"""

from __future__ import annotations

import shutil
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

LIVE_ID = "live_lat_1"
VOD_ID = "vod_lat_1"
CREATOR_ID = "cr_lat"
MINUTE_MS = 60_000

EXPECTED_MINUTES = {0: (7, 3000.0, 8800.0), 1: (3, 3000.0, 4800.0)}
"""Minute offset -> (heartbeats with a latency, p50, p95)."""
EXPECTED_SESSION = (10, 3000.0, 8200.0)
"""Whole session: (heartbeats with a latency, p50, p95)."""

CATALOGUE = [
    {"content_id": LIVE_ID, "creator_id": CREATOR_ID, "content_type": "live"},
    {"content_id": VOD_ID, "creator_id": CREATOR_ID, "content_type": "vod"},
]


@dataclass(frozen=True)
class LatencyScenario:
    start_ms: int
    """The first minute's start (epoch ms, a whole UTC minute)."""
    events: list[dict[str, Any]]
    """Delivered first, in this order (the retry included)."""
    late: list[dict[str, Any]]
    """Delivered in a later batch."""

    @property
    def first_minute(self) -> int:
        return self.start_ms // MINUTE_MS


def _event(type_: str, at_ms: int, viewer: str, session: str, **fields: Any) -> dict[str, Any]:
    return {
        "event_id": str(uuid.uuid4()),
        "type": type_,
        "ts": at_ms,
        "viewer_id": viewer,
        "platform": "web",
        "country": "FR",
        "creator_id": CREATOR_ID,
        "content_id": LIVE_ID,
        "content_type": "live",
        "session_id": session,
        **fields,
    }


def latency_scenario(now_ms: int | None = None) -> LatencyScenario:
    now = int(time.time() * 1000) if now_ms is None else now_ms
    start = (now - 2 * 3_600_000) // MINUTE_MS * MINUTE_MS

    def beat(second: float, viewer: str, latency: int | None) -> dict[str, Any]:
        fields: dict[str, Any] = {"played_ms": 10_000, "state": "playing"}
        if latency is not None:
            fields["live_latency_ms"] = latency
        session = f"s_lat_{viewer}"
        return _event("heartbeat", start + int(second * 1000), viewer, session, **fields)

    a, b = "viewer_a", "viewer_b"
    events = [
        _event("play_requested", start + 500, a, "s_lat_viewer_a"),
        _event("playback_started", start + 1_000, a, "s_lat_viewer_a", startup_ms=500),
        _event("play_requested", start + 2_000, b, "s_lat_viewer_b"),
        _event("playback_started", start + 3_000, b, "s_lat_viewer_b", startup_ms=1_000),
        beat(10, a, 2000),
        beat(13, b, 2500),
        beat(20, a, 3000),
        beat(23, b, 2500),
        beat(30, a, 4000),
        beat(40, a, 10000),
        beat(50, a, None),
        beat(70, a, 5000),
        beat(80, a, 1000),
        beat(90, a, 3000),
    ]
    retry = dict(events[9])
    vod = beat(45, a, 99_000) | {
        "event_id": str(uuid.uuid4()),
        "content_id": VOD_ID,
        "content_type": "vod",
        "session_id": "s_lat_vod",
    }
    ended = _event(
        "playback_ended", start + 95_000, a, "s_lat_viewer_a", reason="user_exit", played_ms=5_000
    )
    ended["live_latency_ms"] = 50_000
    late = [beat(33, b, 6000)]
    return LatencyScenario(start, [*events, retry, vod, ended], late)


def percentile(values: list[int], p: float) -> float:
    """METRICS.md: linear interpolation at position p * (n - 1) of the sorted values."""
    ordered = sorted(values)
    position = p * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (position - low) * (ordered[high] - ordered[low])


_BUILT: dict[str, tuple[LatencyScenario, Path]] = {}


def latency_warehouse(base_dir: Callable[[], Path]) -> tuple[LatencyScenario, Path]:
    """The scenario posted to the real API, the pipeline run and `dbt build` done
    (`tests.support.golden.build_golden_warehouse`), once per test session; returns the
    scenario and the data directory, whose serving.duckdb is a copy of the build.
    `base_dir` makes a fresh directory and is called only for the first build."""
    if "built" not in _BUILT:
        from marquee.layout import DataLayout
        from tests.support.golden import build_golden_warehouse

        scenario = latency_scenario()
        golden = {
            "catalogue": {
                "creators": [{"creator_id": CREATOR_ID, "name": "Latency creator"}],
                "content": [{**record, "title": f"Title {record['content_id']}"}
                            for record in CATALOGUE],
            },
            "events_in_delivery_order": [*scenario.events, *scenario.late],
        }  # fmt: skip
        dbt_db = build_golden_warehouse(base_dir() / "data", golden)
        layout = DataLayout(dbt_db.parent.parent)
        shutil.copyfile(dbt_db, layout.serving_db)
        _BUILT["built"] = (scenario, layout.root)
    return _BUILT["built"]

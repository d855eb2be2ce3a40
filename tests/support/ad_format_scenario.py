"""A scenario of ads in every format (`ad_format`: linear, squeezeback, overlay) in one view.

One view of vod_fmt (creator cr_fmt) starts ten minutes into the UTC hour two hours before
now, so every event is on one UTC day. Its breaks:

- pre-roll b_pre: ad_L1 (linear, named) reaches 100 % and is clicked; ad_L2 (no format
  named: linear) reaches 25 % and is skipped;
- mid-roll b_mid1: ad_S1 (squeezeback) reaches 100 %; ad_S2 (squeezeback) reaches 50 % and
  is clicked;
- mid-roll b_mid2: ad_O1 (overlay) reaches 25 % and is skipped; ad_O2 (overlay) has its
  impression only.

`EXPECTED_PER_FORMAT` holds, per format, the counts of `FORMAT_COUNTS` every ad mart must
add up to, worked out by hand from the events above.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

CREATOR = "cr_fmt"
CONTENT = "vod_fmt"

FORMAT_COUNTS = ("ad_impressions", "ad_q25", "ad_q50", "ad_q75", "ad_q100", "ad_skips", "ad_clicks")
EXPECTED_PER_FORMAT: dict[str, tuple[int, ...]] = {
    "linear": (2, 2, 1, 1, 1, 1, 1),
    "squeezeback": (2, 2, 2, 1, 1, 0, 1),
    "overlay": (2, 1, 0, 0, 0, 1, 0),
}
EXPECTED_RATES: dict[str, dict[str, float]] = {
    # completion, skip rate and CTR over the format's impressions
    "linear": {"ad_completion_rate_pct": 50.0, "skip_rate_pct": 50.0, "ctr_pct": 50.0},
    "squeezeback": {"ad_completion_rate_pct": 50.0, "skip_rate_pct": 0.0, "ctr_pct": 50.0},
    "overlay": {"ad_completion_rate_pct": 0.0, "skip_rate_pct": 50.0, "ctr_pct": 0.0},
}
POSITIONS: dict[str, set[str]] = {"pre": {"linear"}, "mid": {"squeezeback", "overlay"}}


def view_start(now: datetime | None = None) -> datetime:
    """Ten minutes into the UTC hour two hours before now: the view's events share a day."""
    now = now or datetime.now(UTC)
    return (now - timedelta(hours=2)).replace(minute=10, second=0, microsecond=0)


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def ad_format_scenario(now: datetime | None = None) -> dict[str, Any]:
    """The scenario in `tests.support.golden.build_golden_warehouse`'s format."""
    start = view_start(now)
    events: list[dict[str, Any]] = []
    about = {
        "creator_id": CREATOR,
        "content_id": CONTENT,
        "content_type": "vod",
        "session_id": "s_fmt",
        "viewer_id": "v_fmt",
        "platform": "web",
        "country": "DE",
    }

    def add(type_: str, offset_ms: int, **fields: Any) -> None:
        moment = start + timedelta(milliseconds=offset_ms)
        events.append(
            {"event_id": str(uuid.uuid4()), "type": type_, "ts": _iso(moment), **about, **fields}
        )

    def ad(
        offset_ms: int,
        break_id: str,
        position: str,
        ad_id: str,
        ad_format: str | None,
        reached: int,
        *,
        skipped: bool = False,
        clicked: bool = False,
    ) -> None:
        fields: dict[str, Any] = {
            "ad_break_id": break_id,
            "position": position,
            "ad_id": ad_id,
            "ad_duration_ms": 20_000,
        }
        if ad_format is not None:
            fields["ad_format"] = ad_format
        add("ad_impression", offset_ms, **fields)
        for quartile in (25, 50, 75, 100):
            if quartile <= reached:
                add("ad_quartile", offset_ms + 200 * quartile, quartile=quartile, **fields)
        if skipped:
            add("ad_skipped", offset_ms + 20_000, **fields)
        if clicked:
            add("ad_clicked", offset_ms + 1_000, **fields)

    add("play_requested", 0)
    ad(500, "b_pre", "pre", "ad_L1", "linear", 100, clicked=True)
    ad(21_000, "b_pre", "pre", "ad_L2", None, 25, skipped=True)
    add("playback_started", 42_000, startup_ms=42_000)
    ad(100_000, "b_mid1", "mid", "ad_S1", "squeezeback", 100)
    ad(121_000, "b_mid1", "mid", "ad_S2", "squeezeback", 50, clicked=True)
    ad(200_000, "b_mid2", "mid", "ad_O1", "overlay", 25, skipped=True)
    ad(221_000, "b_mid2", "mid", "ad_O2", "overlay", 0)
    add(
        "playback_ended",
        300_000,
        reason="user_exit",
        played_ms=258_000,
        playhead_ms=258_000,
    )
    catalogue = {
        "creators": [{"creator_id": CREATOR, "name": "Format Tester"}],
        "content": [
            {"content_id": CONTENT, "creator_id": CREATOR, "content_type": "vod",
             "title": "Ads in every format", "duration_ms": 600_000},
        ],
    }  # fmt: skip
    return {"catalogue": catalogue, "events_in_delivery_order": events, "view_start": start}

"""A scenario of ads at their grain and tips per currency, around a UTC midnight.

Times are offsets from `midnight`, the start of the UTC day before today's (24-48 h before
now), so the scenario straddles a day boundary inside the ingestion horizon on any date:

- view s_ads_1 (the day before midnight): a pre-roll break of ad_A (absent format: linear;
  every quartile, clicked) and ad_B (linear; first quartile, skipped), then a mid-roll
  break of ad_C (overlay; two quartiles) and of ad_A again (linear; impression only);
- view s_ads_2: ad_A's impression two seconds before midnight, its quartiles and skip
  after it: they count with their impression, on the day before;
- view s_ads_3 (the day after midnight): ad_B's quartiles in a mid-roll break whose
  impression never arrived: a play without impression, counted apart;
- tips to the creator in EUR (twice) and USD the day before, in JPY the day after.

`EXPECTED_*` hold the numbers the marts must show, by hand from the events above.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

CREATOR = "cr_ads"
CONTENT = "vod_ads"
DAY_MS = 86_400_000
HOUR_MS = 3_600_000


def midnight(now: datetime | None = None) -> datetime:
    """The start of the UTC day before today's: 24 to 48 hours before now."""
    now = now or datetime.now(UTC)
    return now.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=1)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + (
        f"{moment.microsecond // 1000:03d}Z"
    )


def _at(base: datetime, offset_ms: int) -> str:
    return iso(base + timedelta(milliseconds=offset_ms))


def ad_events(base: datetime) -> list[dict[str, Any]]:
    """The scenario's events in delivery order, `base` being the midnight they straddle."""
    events: list[dict[str, Any]] = []

    def add(type_: str, offset_ms: int, viewer: str, **fields: Any) -> None:
        events.append(
            {
                "event_id": str(uuid.uuid4()),
                "type": type_,
                "ts": _at(base, offset_ms),
                "viewer_id": viewer,
                "platform": "web",
                "country": "DE",
                **fields,
            }
        )

    content = {"creator_id": CREATOR, "content_id": CONTENT, "content_type": "vod"}

    def view(session: str, viewer: str, start_ms: int, played_ms: int) -> None:
        at = {**content, "session_id": session}
        add("play_requested", start_ms, viewer, **at)
        add("playback_started", start_ms + 40_000, viewer, startup_ms=500, **at)
        add(
            "playback_ended",
            start_ms + 40_000 + played_ms,
            viewer,
            reason="user_exit",
            played_ms=played_ms,
            playhead_ms=played_ms,
            **at,
        )

    def ad(
        type_: str,
        offset_ms: int,
        viewer: str,
        session: str,
        break_id: str,
        position: str,
        ad_id: str,
        **fields: Any,
    ) -> None:
        add(
            type_,
            offset_ms,
            viewer,
            session_id=session,
            ad_break_id=break_id,
            position=position,
            ad_id=ad_id,
            ad_duration_ms=15_000,
            **content,
            **fields,
        )

    # s_ads_1, three hours before midnight.
    s1 = -3 * HOUR_MS
    view("s_ads_1", "v_ads_1", s1, 600_000)
    pre = ("v_ads_1", "s_ads_1", "b_pre", "pre")
    ad("ad_impression", s1 + 1_000, *pre, "ad_A")
    for index, quartile in enumerate((25, 50, 75, 100)):
        ad("ad_quartile", s1 + 4_750 + 3_750 * index, *pre, "ad_A", quartile=quartile)
    ad("ad_clicked", s1 + 9_000, *pre, "ad_A")
    ad("ad_impression", s1 + 17_000, *pre, "ad_B", ad_format="linear")
    ad("ad_quartile", s1 + 20_750, *pre, "ad_B", ad_format="linear", quartile=25)
    ad("ad_skipped", s1 + 23_000, *pre, "ad_B", ad_format="linear")
    mid = ("v_ads_1", "s_ads_1", "b_mid", "mid")
    ad("ad_impression", s1 + 300_000, *mid, "ad_C", ad_format="overlay")
    ad("ad_quartile", s1 + 303_750, *mid, "ad_C", ad_format="overlay", quartile=25)
    ad("ad_quartile", s1 + 307_500, *mid, "ad_C", ad_format="overlay", quartile=50)
    ad("ad_impression", s1 + 316_000, *mid, "ad_A")

    # s_ads_2: the pre-roll straddles midnight; its impression is delivered last.
    view("s_ads_2", "v_ads_2", -30_000, 60_000)
    pre2 = ("v_ads_2", "s_ads_2", "b_pre2", "pre")
    ad("ad_quartile", 1_750, *pre2, "ad_A", quartile=25)
    ad("ad_quartile", 5_500, *pre2, "ad_A", quartile=50)
    ad("ad_skipped", 6_000, *pre2, "ad_A")

    # s_ads_3, an hour after midnight: ad_B's quartiles without their impression.
    s3 = HOUR_MS
    view("s_ads_3", "v_ads_3", s3, 120_000)
    mid3 = ("v_ads_3", "s_ads_3", "b_mid3", "mid")
    ad("ad_quartile", s3 + 63_750, *mid3, "ad_B", quartile=25)
    ad("ad_quartile", s3 + 67_500, *mid3, "ad_B", quartile=50)

    # Tips: EUR twice and USD the day before, JPY the day after.
    tip = {"creator_id": CREATOR}
    add("tip", -2 * HOUR_MS, "v_ads_1", amount_minor=500, currency="EUR", **tip)
    add("tip", -HOUR_MS, "v_ads_2", amount_minor=250, currency="EUR", **tip)
    add("tip", -HOUR_MS + 5_000, "v_ads_2", amount_minor=300, currency="USD", **tip)
    add("tip", 2 * HOUR_MS, "v_ads_3", amount_minor=1_000, currency="JPY", **tip)

    ad("ad_impression", -2_000, *pre2, "ad_A")
    return events


def ad_scenario(now: datetime | None = None) -> dict[str, Any]:
    """The scenario as `tests.support.golden.build_golden_warehouse` takes it, and its midnight."""
    base = midnight(now)
    return {
        "midnight": base,
        "catalogue": {
            "creators": [{"creator_id": CREATOR, "name": "Ads creator"}],
            "content": [
                {
                    "content_id": CONTENT,
                    "creator_id": CREATOR,
                    "content_type": "vod",
                    "duration_ms": 600_000,
                    "published_at": iso(base - timedelta(days=1)),
                }
            ],
        },
        "events_in_delivery_order": ad_events(base),
    }


AD_COUNTS = (
    "ad_impressions",
    "ad_q25",
    "ad_q50",
    "ad_q75",
    "ad_q100",
    "ad_skips",
    "ad_clicks",
    "ad_plays_without_impression",
    "ad_quartiles_without_impression",
)
"""The counts every ad mart carries, in the order of the tuples below."""

EXPECTED_PER_AD_PLAY: dict[tuple[str, str, str, str, str], tuple[int, ...]] = {
    # (day, ad_id, position, ad_format, content): the counts of AD_COUNTS
    ("before", "ad_A", "pre", "linear", CONTENT): (2, 2, 2, 1, 1, 1, 1, 0, 0),
    ("before", "ad_A", "mid", "linear", CONTENT): (1, 0, 0, 0, 0, 0, 0, 0, 0),
    ("before", "ad_B", "pre", "linear", CONTENT): (1, 1, 0, 0, 0, 1, 0, 0, 0),
    ("before", "ad_C", "mid", "overlay", CONTENT): (1, 1, 1, 0, 0, 0, 0, 0, 0),
    ("after", "ad_B", "mid", "linear", CONTENT): (0, 0, 0, 0, 0, 0, 0, 1, 2),
}
"""ad_daily_performance: "before" is the day before midnight, "after" the day after."""

EXPECTED_PER_AD: dict[tuple[str, str, str], tuple[int, ...]] = {
    ("before", "ad_A", "linear"): (3, 2, 2, 1, 1, 1, 1, 0, 0),
    ("before", "ad_B", "linear"): (1, 1, 0, 0, 0, 1, 0, 0, 0),
    ("before", "ad_C", "overlay"): (1, 1, 1, 0, 0, 0, 0, 0, 0),
    ("after", "ad_B", "linear"): (0, 0, 0, 0, 0, 0, 0, 1, 2),
}
EXPECTED_PER_POSITION: dict[tuple[str, str, str], tuple[int, ...]] = {
    ("before", "pre", "linear"): (3, 3, 2, 1, 1, 2, 1, 0, 0),
    ("before", "mid", "linear"): (1, 0, 0, 0, 0, 0, 0, 0, 0),
    ("before", "mid", "overlay"): (1, 1, 1, 0, 0, 0, 0, 0, 0),
    ("after", "mid", "linear"): (0, 0, 0, 0, 0, 0, 0, 1, 2),
}
EXPECTED_PER_CONTENT: dict[tuple[str, str, str], tuple[int, ...]] = {
    ("before", CONTENT, "linear"): (4, 3, 2, 1, 1, 2, 1, 0, 0),
    ("before", CONTENT, "overlay"): (1, 1, 1, 0, 0, 0, 0, 0, 0),
    ("after", CONTENT, "linear"): (0, 0, 0, 0, 0, 0, 0, 1, 2),
}
EXPECTED_PER_CREATOR_DAY: dict[tuple[str, str, str], tuple[int, ...]] = {
    ("before", CREATOR, "linear"): (4, 3, 2, 1, 1, 2, 1, 0, 0),
    ("before", CREATOR, "overlay"): (1, 1, 1, 0, 0, 0, 0, 0, 0),
    ("after", CREATOR, "linear"): (0, 0, 0, 0, 0, 0, 0, 1, 2),
}
EXPECTED_TIPS: dict[tuple[str, str], tuple[int, int]] = {
    # (day, currency): (tips, tips_amount_minor)
    ("before", "EUR"): (2, 750),
    ("before", "USD"): (1, 300),
    ("after", "JPY"): (1, 1_000),
}

"""Every row of EVENTS.md's envelope and event tables, against the contract in code.

These are unit tests of `marquee.events` (the API's validation); the HTTP side of the same
rules is covered in test_ingestion_api.py.
"""

from __future__ import annotations

import json
import time
import typing
from typing import Any

import pytest

from marquee.events import EVENT_TYPES, Event, EventRejected, decode_event, decode_events

pytestmark = pytest.mark.unit

EVENT_ID = "72e6cc3a-babc-4d20-97ee-05cde00902c7"


def player(**fields: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "event_id": EVENT_ID,
        "type": "play_requested",
        "ts": "2026-09-21T16:14:50.000Z",
        "viewer_id": "v_1",
        "platform": "web",
        "creator_id": "cr_1",
        "content_id": "vod_1",
        "content_type": "vod",
        "session_id": "s_1",
    }
    event.update(fields)
    return {key: value for key, value in event.items() if value is not ...}


def reason_of(event: dict[str, Any]) -> str | None:
    try:
        decode_event(json.dumps(event).encode())
    except EventRejected as rejection:
        return rejection.reason.value
    return None


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({}, None),
        ({"event_id": ...}, "missing_field"),
        ({"event_id": "not-a-uuid"}, "invalid_field"),
        ({"event_id": EVENT_ID.upper()}, None),
        ({"event_id": EVENT_ID + "\n"}, "invalid_field"),  # a Python `$` would match here
        ({"type": ...}, "missing_field"),
        ({"type": "teleport"}, "unknown_type"),
        ({"ts": ...}, "missing_field"),
        ({"ts": time.time_ns() // 1_000_000}, None),
        ({"ts": "yesterday"}, "invalid_field"),
        ({"viewer_id": ...}, "missing_field"),
        ({"viewer_id": ""}, "invalid_field"),
        ({"viewer_id": "x" * 128}, None),
        ({"viewer_id": "x" * 129}, "invalid_field"),
        ({"platform": ...}, "missing_field"),
        ({"platform": "tv"}, None),
        ({"platform": "xbox"}, "invalid_field"),
        ({"app_version": "1.2.3", "os": "iOS 18", "device": "iPhone15,2"}, None),
        ({"app_version": 3}, "invalid_field"),
        ({"country": "BR"}, None),
        ({"country": "Brazil"}, "invalid_field"),
        ({"country": "br"}, "invalid_field"),
        ({"country": "BR\n"}, "invalid_field"),
        ({"creator_id": ...}, "missing_field"),
        ({"content_id": ...}, "missing_field"),
        ({"content_type": ...}, "missing_field"),
        ({"content_type": "podcast"}, "invalid_field"),
        ({"session_id": ...}, "missing_field"),
        ({"seq": 0}, None),
        ({"seq": -1}, "invalid_field"),
        ({"seq": 1.5}, "invalid_field"),
        ({"seq": 10**9}, None),
        ({"seq": 10**9 + 1}, "out_of_range"),
        ({"ts": 253_402_300_799_999}, None),
        ({"ts": 253_402_300_800_000}, "out_of_range"),
    ],
)
def test_envelope_rows(fields: dict[str, Any], reason: str | None) -> None:
    assert reason_of(player(**fields)) == reason


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        (player(type="playback_started", startup_ms=700), None),
        (player(type="playback_started"), "missing_field"),
        (player(type="heartbeat", played_ms=10_000, stalled_ms=0, state="playing"), None),
        (player(type="heartbeat", played_ms=-1), "invalid_field"),
        (player(type="heartbeat", played_ms=2**62), "out_of_range"),
        (player(type="heartbeat", played_ms=2**64), "out_of_range"),
        (player(type="playback_started", startup_ms=2**62), "out_of_range"),
        (player(type="heartbeat", state="dancing"), "invalid_field"),
        (player(type="playback_error", code="E1", fatal=True, message="no source"), None),
        (player(type="quality_changed", bitrate_kbps=1800, height=720), None),
        (player(type="playback_ended", reason="completed", played_ms=5), None),
        (player(type="playback_ended"), "missing_field"),
        (player(type="playback_ended", reason="bored"), "invalid_field"),
        (player(type="ad_impression", ad_id="a", ad_break_id="b", position="pre"), None),
        (player(type="ad_quartile", quartile=75), None),
        (player(type="ad_quartile", quartile=60), "invalid_field"),
        (player(type="ad_break_started", position="side"), "invalid_field"),
        (player(type="ad_skipped", session_id=...), "missing_field"),
        (player(type="story_viewed", session_id=..., story_id="st", position=0), None),
        (player(type="story_navigated", session_id=..., action="tap_back"), None),
        (player(type="story_navigated", session_id=..., action="pinch"), "invalid_field"),
        (player(type="story_completed", session_id=...), None),
        (
            player(type="reaction_added", session_id=..., target_id="st", target_type="story",
                   reaction="fire"),
            None,
        ),
        (player(type="reaction_added", session_id=..., target_id="st"), "missing_field"),
        (
            player(type="reaction_added", session_id=..., content_id=..., content_type=...,
                   creator_id=..., target_id="st", target_type="story", reaction="fire"),
            "missing_field",
        ),
        (player(type="chat_message", session_id=..., live_id="l", length=12), None),
        (player(type="follow", session_id=..., content_id=..., content_type=...), None),
        (player(type="unfollow", session_id=..., content_id=..., creator_id=...), "missing_field"),
        (player(type="share", session_id=..., channel="whatsapp"), None),
        (player(type="share", session_id=..., content_type=...), "missing_field"),
        (player(type="share", session_id=..., creator_id=...), "missing_field"),
        (player(type="share", session_id=..., content_id=...), "missing_field"),
        (player(type="chat_message", session_id=..., creator_id=..., live_id="l"), "missing_field"),
        (player(type="story_viewed", session_id=..., creator_id=...), "missing_field"),
        (player(type="ad_clicked", creator_id=...), "missing_field"),
        (player(type="play_requested", surface="feed", autoplay=False), None),
        (player(type="play_requested", surface="homepage"), "invalid_field"),
        (player(type="content_impression", session_id=..., surface="search", list_position=3),
         None),
        (player(type="content_impression", session_id=..., surface="tray"), None),
        (player(type="content_impression", session_id=...), "missing_field"),
        (player(type="content_impression", session_id=..., surface="feed", list_position=-1),
         "invalid_field"),
        (player(type="content_impression", session_id=..., surface="feed",
                list_position=10_001), "out_of_range"),
        (player(type="content_impression", session_id=..., surface="feed", content_id=...),
         "missing_field"),
        (player(type="content_impression", session_id=..., surface="feed", creator_id=...),
         "missing_field"),
        (player(type="tip", session_id=..., amount_minor=500, currency="EUR"), None),
        (player(type="tip", session_id=..., amount_minor=500, currency="euro"), "invalid_field"),
        (player(type="tip", session_id=..., amount_minor=2**63 - 1, currency="IDR"),
         "out_of_range"),
        (player(type="tip", session_id=..., content_id=..., content_type=..., amount_minor=500,
                currency="EUR"), None),
        (player(type="tip", session_id=..., creator_id=..., amount_minor=500, currency="EUR"),
         "missing_field"),
        (player(type="tip", session_id=..., content_type=..., amount_minor=500, currency="EUR"),
         "missing_content_type"),
    ],
)  # fmt: skip
def test_event_type_rows(event: dict[str, Any], reason: str | None) -> None:
    assert reason_of(event) == reason


def test_every_type_of_the_contract_is_decodable() -> None:
    assert set(EVENT_TYPES) == {
        "play_requested", "playback_started", "heartbeat", "playback_error", "quality_changed",
        "playback_ended", "ad_break_started", "ad_impression", "ad_quartile", "ad_skipped",
        "ad_clicked", "ad_break_ended", "story_viewed", "story_navigated", "story_completed",
        "reaction_added", "chat_message", "follow", "unfollow", "share", "tip",
        "content_impression",
    }  # fmt: skip


def test_batch_decoding_tells_each_bad_event_apart() -> None:
    raws = [
        json.dumps(player()).encode(),
        json.dumps(player(platform="xbox")).encode(),
        b"{broken",
        json.dumps(player(type="follow", session_id=..., content_type=...)).encode(),
    ]
    decoded = decode_events(raws)
    assert isinstance(decoded[0], typing.get_args(Event))
    assert [d.reason.value for d in decoded[1:] if isinstance(d, EventRejected)] == [
        "invalid_field",
        "malformed_event",
        "missing_content_type",
    ]


def test_batch_fast_path_still_applies_cross_field_rules() -> None:
    raws = [json.dumps(player(type="follow", session_id=..., content_type=...)).encode()]
    (only,) = decode_events(raws)
    assert isinstance(only, EventRejected)
    assert only.reason.value == "missing_content_type"

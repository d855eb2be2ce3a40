"""The CDN-log path's v1 session model on hand-made log lines (ingestion_api.cmcd_v1_log).

Real players through a loopback CDN and the real pipeline: test_cmcd_players.py; the
endpoint through the real API: test_cmcd_cdn_log.py.
"""

from __future__ import annotations

import json
import urllib.parse
from pathlib import Path
from typing import Any

import msgspec
import pytest

from ingestion_api.cmcd import ReportRejected
from ingestion_api.cmcd_v1_log import V1Mapper, V1Memory
from marquee.catalog import CatalogIndex, CatalogStore
from marquee.events import EventRejected, decode_event
from tests.support.api import APP_ID
from tests.support.cmcd import HOUR_MS, now_ms

pytestmark = pytest.mark.unit

DURATION_MS = 12_000
EXO = "ExoPlayerLib/2.19.1 (Linux; Android 14) androidx.media3"


@pytest.fixture
def mapper(tmp_path: Path) -> V1Mapper:
    CatalogStore(tmp_path).upsert(
        "content",
        [
            {"content_id": "vod_v1", "creator_id": "cr_v1", "content_type": "vod",
             "duration_ms": DURATION_MS},
            {"content_id": "live_v1", "creator_id": "cr_v1", "content_type": "live"},
        ],
    )  # fmt: skip
    index = CatalogIndex(tmp_path / "content.json")
    index.refresh()
    return V1Mapper(index, V1Memory(100), "com.marquee-vid")


def line(ts: int, cmcd: str, url: str | None = None, query: bool = True, **extra: Any) -> bytes:
    """One log line; `cmcd` as the URL-encoded query value, or as one CMCD-Request header."""
    record: dict[str, Any] = {"ts": ts, "ua": EXO, **extra}
    if query:
        record["cmcd"] = urllib.parse.quote(cmcd)
    else:
        record["headers"] = {"CMCD-Request": cmcd, "Accept": "*/*"}
    if url is not None:
        record["url"] = url
    return json.dumps(record).encode()


def feed(mapper: V1Mapper, lines: list[bytes]) -> list[dict[str, Any]]:
    """Map and accept each line; every event must pass the native contract."""
    events: list[dict[str, Any]] = []
    for raw in lines:
        mapped = mapper.map_line(raw, APP_ID)
        mapper.remember(mapped)
        for event in mapped.events:
            decoded = decode_event(msgspec.json.encode(event))
            assert not isinstance(decoded, EventRejected), (event, decoded)
        events += mapped.events
    return events


def playback(t: int, sid: str = "s1", cid: str = "vod_v1", segments: int = 6) -> list[bytes]:
    """A manifest, an init segment, two urgent (`su`) segments, then the rest 2 s apart,
    each 2 s of media at 2500 kbit/s with the buffer the player reports."""
    session = f'sid="{sid}",cid="{cid}",st=v'
    lines = [
        line(t, f"{session},ot=m,su", "/m.mpd"),
        line(t + 50, f"{session},ot=i,su", "/init.mp4"),
        line(t + 100, f"{session},ot=v,d=2000,br=2500,bl=0,su", "/seg_0.m4s"),
        line(t + 300, f"{session},ot=v,d=2000,br=2500,bl=2000,su", "/seg_1.m4s"),
    ]
    for n in range(2, segments):
        lines.append(
            line(
                t + 400 + (n - 2) * 2000, f"{session},ot=v,d=2000,br=2500,bl=4000", f"/seg_{n}.m4s"
            )
        )
    return lines


def test_a_playback_starts_at_its_first_media_request_not_marked_su(mapper: V1Mapper) -> None:
    t = now_ms() - HOUR_MS
    events = feed(mapper, playback(t))
    kinds = [event["type"] for event in events]
    assert kinds == ["play_requested", "playback_started"] + ["heartbeat"] * 3 + ["playback_ended"]
    assert events[0]["ts"] == t
    started = events[1]
    assert (started["ts"], started["startup_ms"]) == (t + 400, 400)
    assert sum(event.get("played_ms", 0) for event in events) == DURATION_MS
    assert events[-1]["reason"] == "completed"
    assert {event["bitrate_kbps"] for event in events[2:]} == {2500}
    assert {event["platform"] for event in events} == {"android"}
    assert {event["session_id"] for event in events} == {"s1"}


def test_played_time_is_bounded_by_wall_time(mapper: V1Mapper) -> None:
    """Six segments requested within 500 ms with no buffer reported: credited only as the
    wall clock allows (since the start, plus the object requested)."""
    t = now_ms() - HOUR_MS
    session = 'sid="w1",cid="vod_v1"'
    lines = [line(t + n * 100, f"{session},ot=v,d=2000", f"/seg_{n}.m4s") for n in range(6)]
    events = feed(mapper, lines)
    played = sum(event.get("played_ms", 0) for event in events)
    assert played == 500 + 2000  # started at t, last request at t + 500
    later = feed(mapper, [line(t + 20_000, f"{session},ot=v,d=2000", "/seg_5.m4s")])
    assert sum(event.get("played_ms", 0) for event in later) == DURATION_MS - played
    assert later[-1]["type"] == "playback_ended"


def test_a_repeated_object_counts_once_and_stalls_come_from_bs(mapper: V1Mapper) -> None:
    t = now_ms() - HOUR_MS
    session = 'sid="b1",cid="live_v1"'
    events = feed(
        mapper,
        [
            line(t, f"{session},ot=v,d=2000,bl=0,su", "/a.m4s"),
            line(t + 2000, f"{session},ot=v,d=2000,bl=2000", "/b.m4s"),
            line(t + 2100, f"{session},ot=v,d=2000,bl=2000", "/b.m4s"),  # a retry
            line(t + 9000, f"{session},ot=v,d=2000,bl=0,bs,su", "/c.m4s", query=False),
            line(t + 9500, f"{session},ot=a,d=2000,bl=0,bs,su", "/c_audio.m4s"),
        ],
    )
    assert sum(event.get("played_ms", 0) for event in events) == 6000
    assert sum(event.get("stall_count", 0) for event in events) == 1  # audio is not counted
    assert "playback_ended" not in [event["type"] for event in events]  # live: no end


def test_a_player_that_never_sends_su_starts_at_its_first_media_request(
    mapper: V1Mapper,
) -> None:
    t = now_ms() - HOUR_MS
    events = feed(
        mapper,
        [
            line(t, 'sid="n1",cid="vod_v1",ot=m', "/master.m3u8"),
            line(t + 250, 'sid="n1",ot=v,d=2000,br=900', "/v.m4s"),
        ],
    )
    assert [event["type"] for event in events] == [
        "play_requested",
        "playback_started",
        "heartbeat",
    ]
    assert events[1]["startup_ms"] == 250 and events[2]["played_ms"] == 2000


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"not json", "malformed_event"),
        (b'{"cmcd": "sid%3D%22x%22"}', "invalid_field"),
        (b'{"ts": 1764752400000}', "missing_field"),
        (b'{"ts": 1764752400000, "cmcd": "cid%3D%22vod_v1%22"}', "missing_field"),
        (b'{"ts": 1764752400000, "cmcd": "sid%3D%22x%22%2Ccid%3D%22nope%22"}', "unknown_content"),
        (b'{"ts": 1764752400000, "cmcd": "sid%3D%22x"}', "malformed_report"),
        (b'{"ts": -5, "cmcd": "sid%3D%22x%22"}', "invalid_field"),
        (b'{"ts": 1764752400000, "headers": {"CMCD-Session": "sid=\\"x\\",cid=\\"vod_v1\\"", '
         b'"CMCD-Object": "d=-2"}}', "invalid_field"),
    ],
)  # fmt: skip
def test_a_bad_line_is_rejected_with_a_typed_reason(
    mapper: V1Mapper, raw: bytes, reason: str
) -> None:
    with pytest.raises(ReportRejected) as caught:
        mapper.map_line(raw, APP_ID)
    assert caught.value.reason == reason


def test_a_rejected_line_leaves_the_session_unchanged(mapper: V1Mapper) -> None:
    """Nothing is remembered until the line's events are accepted: mapping a line without
    accepting it, then again, gives the same events."""
    t = now_ms() - HOUR_MS
    raw = line(t, 'sid="r1",cid="vod_v1",ot=v,d=2000')
    first = mapper.map_line(raw, APP_ID)
    again = mapper.map_line(raw, APP_ID)
    assert first.events == again.events and first.events[0]["type"] == "play_requested"

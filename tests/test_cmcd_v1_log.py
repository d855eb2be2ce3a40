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


def test_a_start_recognised_late_keeps_the_time_played_before_it(mapper: V1Mapper) -> None:
    """A player that marks `su` through a stall right after its first frame is started
    only at its first unmarked request; what it played before still counts, bounded by
    the wall time since its first media request."""
    t = now_ms() - HOUR_MS
    session = 'sid="late1",cid="vod_v1"'
    lines = [
        line(t + n * 2500, f"{session},ot=v,d=2000,bl=1000,su", f"/seg_{n}.m4s") for n in range(4)
    ]
    lines.append(line(t + 10_000, f"{session},ot=v,d=2000,bl=1000", "/seg_4.m4s"))
    events = feed(mapper, lines)
    assert [event["type"] for event in events][:2] == ["play_requested", "playback_started"]
    assert events[1]["startup_ms"] == 10_000
    assert sum(event.get("played_ms", 0) for event in events) == 10_000  # 5 segments


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


def test_a_stall_lasts_while_the_time_not_played_grows(mapper: V1Mapper) -> None:
    """2 s segments; the fourth arrives 5 s after it was asked for, so the 2 s buffer runs
    dry 3 s: the request after it says `bs`, and the time since the start less the media
    played by then (requested less `bl`) grows by those 3 s."""
    t = now_ms() - HOUR_MS
    session = 'sid="st1",cid="live_v1"'

    def segment(at: int, n: int, buffer: int, flags: str = "") -> bytes:
        return line(t + at, f"{session},ot=v,d=2000,br=900,bl={buffer}{flags}", f"/{n}.m4s")

    events = feed(
        mapper,
        [
            segment(0, 0, 0, ",su"),
            segment(100, 1, 2000),  # the start
            segment(2100, 2, 2000),
            segment(4100, 3, 2000),  # slow: arrives at 9100, the buffer ran dry at 6100
            segment(9100, 4, 2000, ",bs"),
            segment(11_100, 5, 2000),
            segment(13_100, 6, 2000),
        ],
    )
    heartbeats = [event for event in events if event["type"] == "heartbeat"]
    assert [event["stalled_ms"] for event in heartbeats] == [0, 0, 0, 0, 3000, 0]
    assert [event["stall_count"] for event in heartbeats] == [0, 0, 0, 1, 0, 0]
    assert heartbeats[3]["state"] == "stalled"
    without_buffer = feed(
        mapper,
        [
            line(t, 'sid="st2",cid="live_v1",ot=v,d=2000', "/0.m4s"),
            line(t + 9000, 'sid="st2",ot=v,d=2000,bs', "/1.m4s"),
            line(t + 11_000, 'sid="st2",ot=v,d=2000', "/2.m4s"),
        ],
    )
    assert sum(event.get("stall_count", 0) for event in without_buffer) == 1
    assert sum(event.get("stalled_ms", 0) for event in without_buffer) == 0  # not told


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


def at_ts(rest: str) -> bytes:
    """A log line timed an hour ago with `rest` after its `ts`: every rejection below is
    for its CMCD, not its age."""
    return ('{"ts": ' + str(now_ms() - HOUR_MS) + rest + "}").encode()


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"not json", "malformed_event"),
        (b'{"cmcd": "sid%3D%22x%22"}', "invalid_field"),
        (at_ts(""), "missing_field"),
        (at_ts(', "cmcd": "cid%3D%22vod_v1%22"'), "missing_field"),
        (at_ts(', "cmcd": "sid%3D%22x%22%2Ccid%3D%22nope%22"'), "unknown_content"),
        (at_ts(', "cmcd": "sid%3D%22x"'), "malformed_report"),
        (b'{"ts": -5, "cmcd": "sid%3D%22x%22"}', "invalid_field"),
        (at_ts(', "headers": {"CMCD-Session": "sid=\\"x\\",cid=\\"vod_v1\\"", '
               '"CMCD-Object": "d=-2"}'), "invalid_field"),
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

"""CMCD reports in process: parsing (CTA-5004-B dictionaries) and mapping onto player events.

The endpoints and the parity with native events, through the real API and pipeline, are in
test_cmcd.py.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingestion_api.cmcd import (
    CmcdMapper,
    CmcdSyntaxError,
    Item,
    ReportRejected,
    SessionMemory,
    Token,
    parse_dictionary,
    platform_of,
)
from marquee.catalog import CatalogIndex, CatalogStore
from marquee.events import EventRejected, RejectReason, decode_event
from tests.support.api import APP_ID
from tests.support.cmcd import CATALOGUE, HOUR_MS, now_ms, report

pytestmark = pytest.mark.unit


def test_parses_cta_5004_b_reports() -> None:
    now_ms = int(time.time() * 1000)
    members = parse_dictionary(
        'bl=(2100;v 1800;a),br=(3000;v 164;a),bs,cid="content-id-123",ec=("2001" "x"),'
        'e=t,pr=1.1,sid="session-id-123",sn=0,sta=p,su=?0,com.example-q="a\\"b\\\\c",'
        f"com.example-t=s,ts={now_ms},v=2"
    )
    assert members["br"] == Item((Item(3000, {"v": True}), Item(164, {"a": True})))
    assert members["bs"] == Item(True)
    assert members["su"] == Item(False)
    assert members["pr"].value == 1.1
    assert members["sta"].value == "p" and isinstance(members["sta"].value, Token)
    assert not isinstance(members["sid"].value, Token)
    assert members["com.example-q"].value == 'a"b\\c'
    assert members["ec"].value == (Item("2001"), Item("x"))
    assert members["ts"].value == now_ms


@pytest.mark.parametrize(
    "text",
    ['sid="open', "SID=1", "a=1,", "a=(1 2", "a=1;", "a=?2", 'a="\\n"', "a=1 b=2", "=1"],
)
def test_malformed_reports_are_syntax_errors(text: str) -> None:
    with pytest.raises(CmcdSyntaxError):
        parse_dictionary(text)


# --- mapping (in process) ---------------------------------------------------------------


@pytest.fixture
def mapper(tmp_path: Path) -> CmcdMapper:
    CatalogStore(tmp_path).upsert("content", CATALOGUE)
    index = CatalogIndex(tmp_path / "content.json")
    index.refresh()
    return CmcdMapper(index, SessionMemory(100), "com.marquee-vid", "com.marquee-pf", 120_000)


def mapped(mapper: CmcdMapper, line: str) -> list[dict[str, Any]]:
    result = mapper.map_line(line, APP_ID, now_ms())
    mapper.remember(result)
    return result.events


def summary(events: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [
        (e["type"], e.get("played_ms"), e.get("stalled_ms"), e.get("stall_count")) for e in events
    ]


def test_reports_map_to_player_events_with_deltas_from_the_previous_state(
    mapper: CmcdMapper,
) -> None:
    t = now_ms() - HOUR_MS
    r = [
        report("s1", 0, t, "e=ps,sta=s"),
        report("s1", 1, t + 700, "e=ps,sta=p,msd=700,br=(3000;v 128;a),bl=(4000)"),
        report("s1", 2, t + 10_700, "e=t,sta=p,pt=10000"),
        report("s1", 3, t + 12_700, "e=ps,sta=r,pt=12000"),
        report("s1", 4, t + 14_200, "e=ps,sta=p,bsd=(1500)"),
        report("s1", 5, t + 15_200, "e=ps,sta=k,pt=13000"),
        report("s1", 6, t + 15_500, "e=ps,sta=a,pt=60000"),
        report("s1", 7, t + 25_500, "e=ps,sta=p"),
        report("s1", 8, t + 26_000, 'e=e,sta=p,ec=("NET_1")'),
        report("s1", 9, t + 27_000, "e=bc,sta=p,br=(1800;v)"),
        report("s1", 10, t + 30_000, "e=ps,sta=q,pt=64000"),
    ]
    events = [mapped(mapper, line) for line in r]
    assert summary(events[0]) == [("play_requested", None, None, None)]
    assert events[1][0] == events[1][0] | {"type": "playback_started", "startup_ms": 700}
    assert events[1][1]["bitrate_kbps"] == 3000 and events[1][1]["buffer_ms"] == 4000
    assert summary(events[2]) == [("heartbeat", 10_000, 0, 0)]
    assert summary(events[3]) == [("heartbeat", 2_000, 0, 0)]
    assert events[3][0]["state"] == "stalled"
    assert summary(events[4]) == [("heartbeat", 0, 1_500, 1)], "the stall counts when it ends"
    assert summary(events[5]) == [("heartbeat", 1_000, 0, 0)]
    assert events[6][0]["seek_ms"] == 300
    assert summary(events[7]) == [("heartbeat", 0, 0, 0)], "paused time is not watched"
    error, beat = events[8]
    assert (error["type"], error["fatal"], error["code"]) == ("playback_error", False, "NET_1")
    assert beat["played_ms"] == 500
    assert [e["type"] for e in events[9]] == ["quality_changed", "heartbeat"]
    assert events[9][0]["bitrate_kbps"] == 1800
    (ended,) = events[10]
    assert (ended["type"], ended["reason"], ended["played_ms"]) == (
        "playback_ended",
        "user_exit",
        3_000,
    )
    every = [event for group in events for event in group]
    assert all(e["content_type"] == "vod" and e["creator_id"] == "cr_c" for e in every)
    assert all(e["viewer_id"] == "viewer-raw-7" and e["platform"] == "ios" for e in every)
    assert len({e["event_id"] for e in every}) == len(every)


def test_retries_repeat_their_events_and_gaps_or_late_reports_count_no_time(
    mapper: CmcdMapper,
) -> None:
    t = now_ms() - HOUR_MS
    mapped(mapper, report("s2", 0, t, "e=ps,sta=p"))
    first = mapped(mapper, report("s2", 1, t + 20_000, "e=t,sta=p"))
    assert first[0]["played_ms"] == 20_000
    assert mapped(mapper, report("s2", 1, t + 20_000, "e=t,sta=p")) == first, "a retry"
    assert mapped(mapper, report("s2", 2, t + 25_000, "e=rr")) == [], "ignored, but in sequence"
    assert mapped(mapper, report("s2", 3, t + 30_000, "e=t,sta=p"))[0]["played_ms"] == 10_000
    gap = mapped(mapper, report("s2", 5, t + 50_000, "e=t,sta=p"))
    assert gap[0]["played_ms"] == 0, "sn 4 went elsewhere: its interval is not guessed"
    late = mapped(mapper, report("s2", 4, t + 40_000, "e=t,sta=p"))
    assert late[0]["played_ms"] == 0, "its time was covered by the later report"
    assert mapped(mapper, report("s2", 6, t + 60_000, "e=t,sta=p"))[0]["played_ms"] == 10_000
    stall_end = mapped(mapper, report("s2", 8, t + 70_000, "e=ps,sta=p,bsd=(2000)"))
    assert summary(stall_end) == [("heartbeat", 0, 2_000, 1)], "after a gap: what it carries"


def test_two_workers_never_count_the_same_time_twice(tmp_path: Path) -> None:
    CatalogStore(tmp_path).upsert("content", CATALOGUE)

    def worker() -> CmcdMapper:
        index = CatalogIndex(tmp_path / "content.json")
        index.refresh()
        return CmcdMapper(index, SessionMemory(10), "com.marquee-vid", "com.marquee-pf", 120_000)

    t = now_ms() - HOUR_MS
    lines = [report("s9", n, t + n * 10_000, "e=t,sta=p") for n in range(7)]
    one = worker()
    alone = sum(e.get("played_ms", 0) for line in lines for e in mapped(one, line))
    workers = [worker(), worker()]
    shared = sum(
        e.get("played_ms", 0)
        for n, line in enumerate(lines)
        for e in mapped(workers[(n // 2) % 2], line)
    )
    assert alone == 60_000
    assert 0 < shared < alone


def test_lifecycle_events_have_one_id_per_session(mapper: CmcdMapper) -> None:
    t = now_ms() - HOUR_MS
    first = mapped(mapper, report("s3", 0, t, "e=t,sta=s"))
    again = mapped(mapper, report("s3", 1, t + 500, "e=ps,sta=s"))
    assert first[0]["event_id"] == again[0]["event_id"]
    other = mapped(mapper, report("s4", 0, t, "e=t,sta=s"))
    assert other[0]["event_id"] != first[0]["event_id"]


def test_a_session_first_seen_mid_stream_counts_only_what_its_report_carries(
    mapper: CmcdMapper,
) -> None:
    events = mapped(mapper, report("s5", 7, now_ms() - HOUR_MS, "e=ps,sta=p,bsd=(800;v)"))
    assert summary(events) == [("heartbeat", 0, 800, 1)]


def test_a_fatal_report_fails_the_view_when_the_next_report_is_still_fatal(
    mapper: CmcdMapper,
) -> None:
    t = now_ms() - HOUR_MS
    mapped(mapper, report("s6", 0, t, "e=ps,sta=s"))
    events = mapped(mapper, report("s6", 1, t + 3_000, 'e=ps,sta=f,ec=("DRM")'))
    assert [(e["type"], e.get("fatal")) for e in events] == [
        ("playback_error", False),
        ("heartbeat", None),
    ], "not failed yet: the player may play on"
    events = mapped(mapper, report("s6", 2, t + 8_000, 'e=t,sta=f,ec=("DRM")'))
    assert [(e["type"], e.get("fatal"), e.get("reason")) for e in events] == [
        ("playback_error", True, None),
        ("playback_ended", None, "error"),
    ]


def test_a_fatal_report_followed_by_playback_is_no_failure_and_keeps_its_end(
    mapper: CmcdMapper,
) -> None:
    t = now_ms() - HOUR_MS
    mapped(mapper, report("s6b", 0, t, "e=ps,sta=s"))
    mapped(mapper, report("s6b", 1, t + 500, "e=ps,sta=p"))
    mapped(mapper, report("s6b", 2, t + 3_000, 'e=ps,sta=f,ec=("DECODE")'))
    resumed = mapped(mapper, report("s6b", 3, t + 3_200, "e=ps,sta=p"))
    ended = mapped(mapper, report("s6b", 4, t + 10_000, "e=ps,sta=e"))
    every = [e for group in (resumed, ended) for e in group]
    assert not [e for e in every if e.get("fatal")]
    assert [(e["type"], e["reason"], e["played_ms"]) for e in ended] == [
        ("playback_ended", "completed", 6_800)
    ]


def bare(sid: str, sn: int, ts: int, extra: str) -> str:
    """A report as the players send it: no viewer or platform key."""
    return f'sid="{sid}",cid="vod_c",sn={sn},ts={ts},v=2,{extra}'


def test_startup_is_timed_from_the_reports_when_msd_is_missing_or_implausible(
    mapper: CmcdMapper,
) -> None:
    t = now_ms() - HOUR_MS
    mapped(mapper, bare("t1", 0, t, "e=ps,sta=s"))
    (started, _) = mapped(mapper, bare("t1", 1, t + 640, "e=ps,sta=p,br=(900;v)"))
    assert (started["type"], started["startup_ms"]) == ("playback_started", 640)

    mapped(mapper, bare("t2", 0, t, "e=ps,sta=s,msd=1"))
    early = mapped(mapper, bare("t2", 1, t + 30, "e=ps,sta=w,msd=1"))
    assert [e["type"] for e in early] == ["heartbeat"], "no frame can have been shown yet"
    started = mapped(mapper, bare("t2", 2, t + 450, "e=ps,sta=p"))[0]
    assert started["startup_ms"] == 450
    later = mapped(mapper, bare("t2", 3, t + 5_450, "e=t,sta=p,msd=470"))
    assert [e["type"] for e in later] == ["heartbeat"], "one start per view"

    mapped(mapper, bare("t3", 0, t, "e=t"))
    mapped(mapper, bare("t3", 2, t + 113, "e=ps,sta=p"))  # overtook the sta=s POST
    overtaken = mapped(mapper, bare("t3", 1, t + 3, "e=ps,sta=s"))
    assert [(e["type"], e.get("startup_ms")) for e in overtaken] == [
        ("play_requested", None),
        ("playback_started", 110),
    ]
    assert [e["type"] for e in mapped(mapper, bare("t3", 3, t + 5_003, "e=t,sta=p"))] == [
        "heartbeat"
    ]


def test_one_end_per_view_when_the_player_repeats_it(mapper: CmcdMapper) -> None:
    t = now_ms() - HOUR_MS
    mapped(mapper, bare("e1", 0, t, "e=ps,sta=s"))
    mapped(mapper, bare("e1", 1, t + 300, "e=ps,sta=p"))
    (ended,) = mapped(mapper, bare("e1", 2, t + 24_300, "e=ps,sta=e"))
    assert (ended["type"], ended["played_ms"]) == ("playback_ended", 24_000)
    assert mapped(mapper, bare("e1", 3, t + 25_000, "e=t,sta=e")) == []


def test_the_bitrate_is_carried_forward_and_credited_to_the_interval_it_was_on(
    mapper: CmcdMapper,
) -> None:
    t = now_ms() - HOUR_MS
    mapped(mapper, bare("b1", 0, t, "e=ps,sta=s"))
    mapped(mapper, bare("b1", 1, t + 500, "e=ps,sta=p,br=(2500;v)"))
    (beat,) = mapped(mapper, bare("b1", 2, t + 5_500, "e=t,sta=p"))
    assert (beat["played_ms"], beat["bitrate_kbps"]) == (5_000, 2_500)
    switch = mapped(mapper, bare("b1", 3, t + 7_500, "e=bc,sta=p,br=(900;v),pb=(300;v)"))
    assert [(e["type"], e["bitrate_kbps"]) for e in switch] == [
        ("quality_changed", 300),
        ("heartbeat", 2_500),
    ], "pb (on screen) before br; the 2 s before the switch were at 2500"
    (beat,) = mapped(mapper, bare("b1", 4, t + 9_500, "e=t,sta=p"))
    assert (beat["played_ms"], beat["bitrate_kbps"]) == (2_000, 300)


def test_a_requested_rendition_is_credited_once_the_buffer_ahead_of_it_has_played(
    mapper: CmcdMapper,
) -> None:
    """hls.js sends as `br` the level it loads, `bl` ahead of the screen."""
    t = now_ms() - HOUR_MS
    mapped(mapper, bare("h1", 0, t, "e=ps,sta=s"))
    mapped(mapper, bare("h1", 1, t + 500, "e=ps,sta=p,br=(300;v),bl=(2000;v)"))
    (beat,) = mapped(mapper, bare("h1", 2, t + 10_500, "e=t,sta=p,br=(2500;v),bl=(8000;v)"))
    assert (beat["played_ms"], beat["bitrate_kbps"]) == (10_000, 300)
    (beat,) = mapped(mapper, bare("h1", 3, t + 20_500, "e=t,sta=p,br=(2500;v),bl=(9000;v)"))
    assert (beat["played_ms"], beat["bitrate_kbps"]) == (10_000, (8 * 300 + 2 * 2_500) // 10)
    (ended,) = mapped(mapper, bare("h1", 4, t + 25_500, "e=t,sta=e"))
    assert (ended["played_ms"], ended["bitrate_kbps"]) == (5_000, 2_500)


def test_no_stall_before_the_first_frame(mapper: CmcdMapper) -> None:
    t = now_ms() - HOUR_MS
    mapped(mapper, bare("r1", 0, t, "e=ps,sta=s"))
    mapped(mapper, bare("r1", 1, t + 100, "e=ps,sta=r"))
    (started, beat) = mapped(mapper, bare("r1", 2, t + 900, "e=ps,sta=p"))
    assert started["startup_ms"] == 900
    assert (beat["stalled_ms"], beat["stall_count"]) == (0, 0)
    mapped(mapper, bare("r1", 3, t + 5_900, "e=ps,sta=w"))
    (beat,) = mapped(mapper, bare("r1", 4, t + 7_400, "e=ps,sta=p"))
    assert (beat["stalled_ms"], beat["stall_count"]) == (1_500, 1), "after it, w is a stall"


def test_a_stall_answered_within_a_frame_is_played_time(mapper: CmcdMapper) -> None:
    """hls.js reports the `waiting`/`playing` pairs Chromium fires at segment boundaries."""
    t = now_ms() - HOUR_MS
    mapped(mapper, bare("f1", 0, t, "e=ps,sta=s"))
    mapped(mapper, bare("f1", 1, t + 300, "e=ps,sta=p"))
    mapped(mapper, bare("f1", 2, t + 5_300, "e=ps,sta=r"))
    (beat,) = mapped(mapper, bare("f1", 3, t + 5_323, "e=ps,sta=p"))
    assert (beat["played_ms"], beat["stalled_ms"], beat["stall_count"]) == (23, 0, 0)
    mapped(mapper, bare("f1", 4, t + 9_000, "e=ps,sta=r"))
    (beat,) = mapped(mapper, bare("f1", 5, t + 9_034, "e=ps,sta=p"))
    assert (beat["played_ms"], beat["stalled_ms"], beat["stall_count"]) == (0, 34, 1)
    mapped(mapper, bare("f1", 6, t + 12_000, "e=ps,sta=w"))
    mapped(mapper, bare("f1", 7, t + 12_020, "e=t,sta=w"))
    (beat,) = mapped(mapper, bare("f1", 8, t + 12_030, "e=ps,sta=p"))
    assert (beat["stalled_ms"], beat["stall_count"]) == (10, 1), "a stall over several reports"


def test_a_session_without_states_plays_from_its_first_frame(mapper: CmcdMapper) -> None:
    t = now_ms() - HOUR_MS
    mapped(mapper, bare("n1", 0, t, "e=t"))
    mapped(mapper, bare("n1", 1, t + 100, "e=bc,br=(2500)"))
    (requested, started, beat) = mapped(mapper, bare("n1", 2, t + 5_000, "e=t,msd=400"))
    assert (requested["type"], requested["ts"]) == ("play_requested", t), "every start an attempt"
    assert (started["type"], started["startup_ms"]) == ("playback_started", 400)
    assert beat["played_ms"] == 4_600, "from request + msd on"
    (beat,) = mapped(mapper, bare("n1", 3, t + 10_000, "e=t,br=(2500)"))
    assert beat["played_ms"] == 5_000


def test_a_session_without_states_plays_at_most_the_duration_which_completes_it(
    tmp_path: Path,
) -> None:
    CatalogStore(tmp_path).upsert(
        "content",
        [
            {
                "content_id": "vod_d",
                "creator_id": "cr_d",
                "content_type": "vod",
                "duration_ms": 12_000,
            }
        ],
    )
    index = CatalogIndex(tmp_path / "content.json")
    index.refresh()
    mapper = CmcdMapper(index, SessionMemory(10), "com.marquee-vid", "com.marquee-pf", 120_000)
    t = now_ms() - HOUR_MS
    lines = [f'sid="d1",cid="vod_d",sn={n},ts={t + n * 5_000},v=2,e=t' for n in range(5)]
    lines[1] += ",msd=500"
    per_line = [mapped(mapper, line) for line in lines]
    events = [e for group in per_line for e in group]
    assert sum(e.get("played_ms", 0) for e in events) == 12_000
    ended = [e for e in events if e["type"] == "playback_ended"]
    assert [(e["reason"], e["ts"]) for e in ended] == [("completed", t + 15_000)]
    assert mapped(mapper, lines[3]) == per_line[3], "Shaka POSTs each report twice"
    assert mapped(mapper, lines[0]) == per_line[0], "a retry is mapped as its original was"


def test_the_platform_comes_from_the_user_agent_when_the_report_names_none(
    mapper: CmcdMapper,
) -> None:
    chrome = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/156.0 Safari/537.36"
    result = mapper.map_line(bare("u1", 0, now_ms(), "e=ps,sta=s"), APP_ID, now_ms(), chrome)
    assert result.events[0]["platform"] == "web"
    named = mapper.map_line(report("u2", 0, now_ms(), "e=ps,sta=s"), APP_ID, now_ms(), chrome)
    assert named.events[0]["platform"] == "ios", "the report's own key wins"
    assert (
        platform_of("AppleCoreMedia/1.0.0.21A329 (iPhone; U; CPU OS 17_0 like Mac OS X)") == "ios"
    )
    assert platform_of("ExoPlayerLib/2.19.1") == "android"
    assert platform_of("Mozilla/5.0 (SMART-TV; Linux; Tizen 7.0) AppleWebKit/537.36") == "tv"
    assert platform_of("curl/8.5") is None


def test_ltc_is_the_live_latency_of_a_live_heartbeat_only(mapper: CmcdMapper) -> None:
    """CMCD v2 `ltc` -> `live_latency_ms` on the heartbeats of live content; the contract
    ignores the field elsewhere, so a VOD report's `ltc` is not sent on."""
    t = now_ms() - HOUR_MS
    live = [
        mapped(mapper, report("l1", 0, t, "e=ps,sta=s", cid="live_c")),
        mapped(mapper, report("l1", 1, t + 700, "e=ps,sta=p,msd=700,ltc=3200", cid="live_c")),
        mapped(mapper, report("l1", 2, t + 10_700, "e=t,sta=p,ltc=4100", cid="live_c")),
        mapped(mapper, report("l1", 3, t + 20_700, "e=t,sta=p", cid="live_c")),
        mapped(mapper, report("l1", 4, t + 21_700, "e=ps,sta=q,ltc=4500", cid="live_c")),
    ]
    beats = [e for group in live for e in group if e["type"] == "heartbeat"]
    assert [e.get("live_latency_ms") for e in beats] == [3200, 4100, None]
    assert all("live_latency_ms" not in e for g in live for e in g if e["type"] != "heartbeat")
    vod = mapped(mapper, report("v1", 0, t, "e=t,sta=p,ltc=3000"))
    assert vod and all("live_latency_ms" not in e for e in vod)
    for event in beats:
        decode_event(msgspec.json.encode(event))


def test_ltc_over_its_bound_rejects_the_report(mapper: CmcdMapper) -> None:
    t = now_ms() - HOUR_MS
    assert mapped(mapper, report("l2", 0, t, "e=t,sta=p,ltc=86400000", cid="live_c"))
    with pytest.raises(ReportRejected) as rejected:
        mapper.map_line(report("l2", 1, t + 1, "e=t,sta=p,ltc=86400001", cid="live_c"), APP_ID, t)
    assert rejected.value.reason == "out_of_range"
    assert "live_latency_ms" in rejected.value.detail


def test_unsupported_event_types_are_ignored(mapper: CmcdMapper) -> None:
    result = mapper.map_line(report("s7", 0, now_ms() - HOUR_MS, "e=abs"), APP_ID, now_ms())
    assert result.ignored and result.events == []


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ('cid="vod_c",e=t,ts=1', "missing_field"),
        ('sid="x",e=t,ts=1', "missing_field"),
        ('sid="x",cid="nope",e=t,ts=1', "unknown_content"),
        ('sid="x",cid="vod_c",sta=z,ts=1', "invalid_field"),
        ('sid="x",cid="vod_c",br=-5,ts=1', "invalid_field"),
        ('sid="x",cid="vod_c",ts="soon"', "invalid_field"),
        ("sid=", "malformed_report"),
    ],
)
def test_unusable_reports_are_rejected_with_a_reason(
    mapper: CmcdMapper, line: str, reason: str
) -> None:
    with pytest.raises(ReportRejected) as rejected:
        mapper.map_line(line, APP_ID, now_ms())
    assert rejected.value.reason == reason


_CMCD_ALPHABET = st.sampled_from(list('abcdeklmnpqrstv=,;()" ?:*-._0123456789\\\t'))


@settings(max_examples=400, deadline=None)
@given(
    text=st.one_of(
        st.text(max_size=80),
        st.text(_CMCD_ALPHABET, max_size=80),
        st.text(_CMCD_ALPHABET, max_size=60).map(lambda t: f'sid="f",cid="vod_c",{t}'),
    )
)
def test_any_text_maps_or_is_rejected_with_a_reason(tmp_path_factory: Any, text: str) -> None:
    directory = tmp_path_factory.getbasetemp() / "fuzz_catalogue"
    if not (directory / "content.json").exists():
        CatalogStore(directory).upsert("content", CATALOGUE)
    index = CatalogIndex(directory / "content.json")
    index.refresh()
    mapper = CmcdMapper(index, SessionMemory(10), "com.marquee-vid", "com.marquee-pf", 120_000)
    try:
        result = mapper.map_line(text, APP_ID, now_ms())
    except ReportRejected as rejected:
        assert rejected.reason in {
            "malformed_report",
            "missing_field",
            "invalid_field",
            "unknown_content",
            "out_of_range",  # a measured br, msd or ltc over its bound
        }
        return
    mapper.remember(result)
    for event in result.events:
        assert event["session_id"] == "f"
        try:
            decode_event(msgspec.json.encode(event))
        except EventRejected as rejected:
            assert rejected.reason in (RejectReason.INVALID_FIELD, RejectReason.MISSING_FIELD)

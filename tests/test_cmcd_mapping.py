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


def test_fatal_error_ends_the_view(mapper: CmcdMapper) -> None:
    t = now_ms() - HOUR_MS
    mapped(mapper, report("s6", 0, t, "e=ps,sta=s"))
    events = mapped(mapper, report("s6", 1, t + 3_000, 'e=ps,sta=f,ec=("DRM")'))
    assert [(e["type"], e.get("fatal"), e.get("reason")) for e in events] == [
        ("playback_error", True, None),
        ("playback_ended", None, "error"),
    ]


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
        }
        return
    mapper.remember(result)
    for event in result.events:
        assert event["session_id"] == "f"
        try:
            decode_event(msgspec.json.encode(event))
        except EventRejected as rejected:
            assert rejected.reason in (RejectReason.INVALID_FIELD, RejectReason.MISSING_FIELD)

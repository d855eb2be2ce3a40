"""CMCD reports: parsing, mapping onto player events, the endpoints, and parity with native events.

The parity test runs the real pipeline over what each path wrote: the same playback
reported once as native events and once as CMCD must give the same per-minute aggregates.
"""

from __future__ import annotations

import json
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import msgspec
import polars as pl
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
from marquee.layout import DataLayout
from pipelines.local_runner import LocalRunner
from tests.support.api import APP_ID, WRITE_KEY, ApiProcess, start_api
from tests.support.golden import load_scenario
from tests.support.stores import log_records, quarantined

pytestmark = pytest.mark.integration

ADMIN_TOKEN = "adm_test_only_cmcd"
ENV = {"MARQUEE_ADMIN_TOKEN": ADMIN_TOKEN, "MARQUEE_WRITE_KEYS": f"{APP_ID}:{WRITE_KEY}"}
CMCD_HEADERS = {"X-Write-Key": WRITE_KEY, "Content-Type": "application/cmcd"}
CATALOGUE = [
    {"content_id": "vod_c", "creator_id": "cr_c", "content_type": "vod"},
    {"content_id": "live_c", "creator_id": "cr_live", "content_type": "live"},
]
MEASURES = ["attempts", "starts", "fatal_errors", "played_ms", "stalled_ms", "stall_count"]
MEASURES += ["startup_ms_sum"]


HOUR_MS = 3_600_000


def now_ms() -> int:
    return int(time.time() * 1000)


def put_content(url: str, records: list[dict[str, Any]]) -> None:
    response = httpx.put(
        f"{url}/v1/catalog/content",
        json=records,
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
    )
    assert response.status_code == 200 and response.json()["rejected"] == []


def post_cmcd(url: str, lines: list[str]) -> httpx.Response:
    return httpx.post(f"{url}/v1/cmcd", content="\n".join(lines) + "\n", headers=CMCD_HEADERS)


def report(sid: str, sn: int, ts: int, extra: str, cid: str = "vod_c") -> str:
    return (
        f'sid="{sid}",cid="{cid}",sn={sn},ts={ts},com.marquee-vid="viewer-raw-7",'
        f"com.marquee-pf=ios,st=v,v=2,{extra}"
    )


# --- parsing ----------------------------------------------------------------------------


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


# --- the endpoints ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiProcess]:
    server = start_api(tmp_path_factory.mktemp("cmcd") / "data", ENV)
    try:
        put_content(server.url, CATALOGUE)
        yield server
    finally:
        server.stop()


def session_records(api: ApiProcess, sid: str) -> list[dict[str, Any]]:
    return [r for r in log_records(api.data_dir) if r.get("session_id") == sid]


def test_post_maps_reports_through_the_events_path(api: ApiProcess) -> None:
    t = now_ms() - 60_000
    lines = [
        report("p1", 0, t, "e=ps,sta=s"),
        report("p1", 1, t + 900, "e=ps,sta=p,msd=900,br=(2500;v)"),
        report("p1", 2, t + 10_900, "e=t,sta=p,pt=10000,br=(2500;v),bl=(8000)"),
        report("p1", 3, t + 15_900, "e=ps,sta=e,pt=15000"),
        report("p1", 4, t + 16_000, "e=rr"),
    ]
    response = post_cmcd(api.url, lines)
    assert response.status_code == 202
    assert response.json() == {"accepted": 5, "rejected": [], "events": 5, "ignored": 1}
    records = session_records(api, "p1")
    assert [r["type"] for r in records] == [
        "play_requested",
        "playback_started",
        "heartbeat",  # the state change to playing, with the bitrate
        "heartbeat",
        "playback_ended",
    ]
    assert all(r["app_id"] == APP_ID and r["platform"] == "ios" for r in records)
    assert all((r["creator_id"], r["content_type"]) == ("cr_c", "vod") for r in records)
    assert records[1]["startup_ms"] == 900
    assert (records[2].get("played_ms", 0), records[2]["bitrate_kbps"]) == (0, 2500)
    assert (records[3]["played_ms"], records[3]["buffer_ms"]) == (10_000, 8000)
    assert records[4]["played_ms"] == 5_000 and records[4]["reason"] == "completed"
    assert records[0]["event_time_ms"] == t
    assert "viewer_id" not in records[0] and len(records[0]["viewer_key"]) == 32
    assert b"viewer-raw-7" not in b"".join(p.read_bytes() for p in (api.data_dir / "log").iterdir())


def test_get_takes_one_url_encoded_report(api: ApiProcess) -> None:
    line = report("g1", 0, now_ms(), "e=ps,sta=s")
    query = urllib.parse.urlencode({"CMCD": line, "write_key": WRITE_KEY})
    response = httpx.get(f"{api.url}/v1/cmcd?{query}")
    assert response.status_code == 202
    assert response.json()["accepted"] == 1
    (record,) = session_records(api, "g1")
    assert record["type"] == "play_requested" and record["content_id"] == "vod_c"
    assert httpx.get(f"{api.url}/v1/cmcd?write_key={WRITE_KEY}").status_code == 400


def test_unknown_content_is_rejected_and_quarantined(api: ApiProcess) -> None:
    good = report("u1", 0, now_ms(), "e=ps,sta=s")
    unknown = report("u1", 1, now_ms(), "e=ps,sta=p", cid="not_in_catalogue")
    response = post_cmcd(api.url, [good, unknown])
    assert response.json()["rejected"] == [{"index": 1, "reason": "unknown_content"}]
    assert response.json()["accepted"] == 1
    kept = [q for q in quarantined(api.data_dir) if "not_in_catalogue" in q["payload"]]
    assert [(q["reason"], q["index"], q["app_id"]) for q in kept] == [
        ("unknown_content", 1, APP_ID)
    ]
    assert 'sid="u1"' in kept[0]["payload"]
    assert "viewer-raw-7" not in json.dumps(quarantined(api.data_dir))
    assert [r["type"] for r in session_records(api, "u1")] == ["play_requested"]


def test_reports_out_of_the_time_horizon_are_rejected(api: ApiProcess) -> None:
    old = report("o1", 0, now_ms() - 8 * 24 * 3_600_000, "e=ps,sta=s")
    response = post_cmcd(api.url, [old])
    assert response.json()["rejected"] == [{"index": 0, "reason": "event_too_old"}]
    assert session_records(api, "o1") == []


def test_write_key_and_media_type_are_checked(api: ApiProcess) -> None:
    line = report("k1", 0, now_ms(), "e=ps,sta=s")
    response = httpx.post(
        f"{api.url}/v1/cmcd", content=line, headers={"Content-Type": "application/cmcd"}
    )
    assert response.status_code == 401
    response = httpx.post(
        f"{api.url}/v1/cmcd",
        content=line,
        headers={"X-Write-Key": WRITE_KEY, "Content-Type": "application/json"},
    )
    assert response.status_code == 415
    response = httpx.post(
        f"{api.url}/v1/cmcd",
        content=line,
        headers={"X-Write-Key": WRITE_KEY, "Content-Type": "text/cmcd"},
    )
    assert response.status_code == 202
    assert [r["type"] for r in session_records(api, "k1")] == ["play_requested"]


# --- parity with native events, through the real pipeline -------------------------------

PLAYER_TYPES = {"play_requested", "playback_started", "heartbeat", "playback_ended"}


def golden_view_a() -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, Any]]:
    scenario = load_scenario()
    events = [
        e
        for e in scenario["events_in_delivery_order"]
        if e.get("session_id") == "s_g_A" and e["type"] in PLAYER_TYPES
    ]
    return events, scenario["catalogue"]["content"], scenario["expected"]["views"]["s_g_A"]


def cmcd_lines_for(events: list[dict[str, Any]]) -> list[str]:
    """View s_g_A as a CMCD v2 player reports it: state changes and interval reports."""

    def ms(event: dict[str, Any]) -> int:
        return int(datetime.fromisoformat(event["ts"].replace("Z", "+00:00")).timestamp() * 1000)

    by_type = {e["type"]: ms(e) for e in events if e["type"] != "heartbeat"}
    hb1, hb2 = sorted(ms(e) for e in events if e["type"] == "heartbeat")
    requested, started = by_type["play_requested"], by_type["playback_started"]
    ended = by_type["playback_ended"]
    common = 'sid="s_g_A",cid="vod_g_1",com.marquee-vid="v_g_1",com.marquee-pf=web,sf=h,st=v,v=2'
    return [
        f"{common},sn=0,e=ps,sta=s,ts={requested}",
        f"{common},sn=1,e=ps,sta=p,msd={started - requested},ts={started},br=(3000;v)",
        f"{common},sn=2,e=t,sta=p,ts={hb1},pt=10000,br=(3000;v),bl=(12000)",
        f"{common},sn=3,e=ps,sta=r,ts={hb1 + 5_000},pt=15000,bl=(0)",
        f"{common},sn=4,e=ps,sta=p,ts={hb1 + 6_000},pt=15000,bsd=(1000)",
        f"{common},sn=5,e=bc,sta=p,ts={hb1 + 6_500},pt=15500,br=(1800;v)",
        f"{common},sn=6,e=t,sta=p,ts={hb2},pt=20000,br=(1800;v)",
        f"{common},sn=7,e=ps,sta=e,ts={ended},pt=30000,br=(1800;v)",
    ]


def minute_totals(data_dir: Path) -> pl.DataFrame:
    LocalRunner(DataLayout(data_dir)).drain()
    frame = pl.read_parquet(data_dir / "lake" / "minute_aggregates" / "*.parquet")
    keys = ["epoch_minute", "content_id", "creator_id", "content_type", "platform", "country"]
    return frame.group_by(keys).agg(pl.col(MEASURES).sum()).sort(keys)


def test_cmcd_and_native_reports_of_one_playback_give_the_same_metrics(tmp_path: Path) -> None:
    events, content, expected = golden_view_a()
    native_dir, cmcd_dir = tmp_path / "native", tmp_path / "cmcd"
    native, cmcd = start_api(native_dir, ENV), start_api(cmcd_dir, ENV)
    try:
        assert native.post({"events": events}).json() == {"accepted": 5, "rejected": []}
        put_content(cmcd.url, content)
        lines = cmcd_lines_for(events)
        for batch in (lines[:4], lines[4:], lines[4:6]):  # the last is a client retry
            response = post_cmcd(cmcd.url, batch)
            assert response.status_code == 202 and response.json()["rejected"] == []
    finally:
        native.stop()
        cmcd.stop()

    from_native, from_cmcd = minute_totals(native_dir), minute_totals(cmcd_dir)
    assert from_cmcd.to_dicts() == from_native.to_dicts()
    (row,) = from_cmcd.to_dicts()
    assert (row["content_id"], row["platform"]) == ("vod_g_1", "web")
    assert (row["attempts"], row["starts"], row["fatal_errors"]) == (1, 1, 0)
    assert row["startup_ms_sum"] == expected["startup_ms"]
    assert row["played_ms"] == expected["played_ms"]
    assert (row["stalled_ms"], row["stall_count"]) == (expected["stalled_ms"], 1)
    ids = {r["event_id"] for r in log_records(cmcd_dir)}
    assert all(uuid.UUID(i).version == 5 for i in ids)

"""CMCD reports through the real API (the endpoints) and parity with native events.

Parsing and mapping, in process, are in test_cmcd_mapping.py. The parity test runs the real
pipeline over what each path wrote: the same playback reported once as native events and
once as CMCD must give the same per-minute aggregates.
"""

from __future__ import annotations

import json
import urllib.parse
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import polars as pl
import pytest

from marquee.layout import DataLayout
from pipelines.local_runner import LocalRunner
from tests.support.api import APP_ID, WRITE_KEY, ApiProcess, start_api
from tests.support.cmcd import CATALOGUE, now_ms, report
from tests.support.golden import load_scenario
from tests.support.stores import log_records, quarantined

pytestmark = pytest.mark.integration

ADMIN_TOKEN = "adm_test_only_cmcd"
ENV = {"MARQUEE_ADMIN_TOKEN": ADMIN_TOKEN, "MARQUEE_WRITE_KEYS": f"{APP_ID}:{WRITE_KEY}"}
CMCD_HEADERS = {"X-Write-Key": WRITE_KEY, "Content-Type": "application/cmcd"}
MEASURES = ["attempts", "starts", "fatal_errors", "played_ms", "stalled_ms", "stall_count"]
MEASURES += ["startup_ms_sum"]


def put_content(url: str, records: list[dict[str, Any]]) -> None:
    response = httpx.put(
        f"{url}/v1/catalog/content",
        json=records,
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
    )
    assert response.status_code == 200 and response.json()["rejected"] == []


def post_cmcd(url: str, lines: list[str]) -> httpx.Response:
    return httpx.post(f"{url}/v1/cmcd", content="\n".join(lines) + "\n", headers=CMCD_HEADERS)


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

"""`POST /v1/cmcd/cdn-log` through the real API: CDN log lines carrying CMCD v1.

The session model on hand-made lines is in test_cmcd_v1_log.py; real players through a
loopback CDN and the real pipeline in test_cmcd_players.py.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Iterator

import httpx
import pytest

from tests.support.api import APP_ID, WRITE_KEY, ApiProcess, start_api
from tests.support.cmcd import CATALOGUE, HOUR_MS, now_ms
from tests.support.stores import log_records, quarantined

pytestmark = pytest.mark.integration

ADMIN_TOKEN = "adm_test_only_cdn_log"
ENV = {"MARQUEE_ADMIN_TOKEN": ADMIN_TOKEN, "MARQUEE_WRITE_KEYS": f"{APP_ID}:{WRITE_KEY}"}
NDJSON = {"X-Write-Key": WRITE_KEY, "Content-Type": "application/x-ndjson"}


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiProcess]:
    server = start_api(tmp_path_factory.mktemp("cdn_log") / "data", ENV)
    try:
        response = httpx.put(
            f"{server.url}/v1/catalog/content",
            json=CATALOGUE,
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        )
        assert response.status_code == 200
        yield server
    finally:
        server.stop()


def log_line(ts: int, cmcd: str, url: str) -> str:
    return json.dumps(
        {"ts": ts, "cmcd": urllib.parse.quote(cmcd), "ua": "AppleCoreMedia/1.0", "url": url}
    )


def test_valid_lines_are_accepted_and_bad_ones_quarantined(api: ApiProcess) -> None:
    t = now_ms() - HOUR_MS
    session = 'sid="c1",cid="vod_c",st=v'
    lines = [
        log_line(t, f"{session},ot=m,su", "/master.m3u8"),
        "this is not json",
        log_line(t + 300, f"{session},ot=v,d=4000,br=900,bl=0", "/seg_0.m4s"),
        json.dumps({"ts": t + 400, "cmcd": 'sid="c1",cid="not_in_catalogue"'}),
        log_line(t + 4300, f"{session},ot=v,d=4000,br=900,bl=4000,bs", "/seg_1.m4s"),
    ]
    response = httpx.post(f"{api.url}/v1/cmcd/cdn-log", content="\n".join(lines), headers=NDJSON)
    assert response.status_code == 202
    assert response.json() == {
        "accepted": 3,
        "rejected": [
            {"index": 1, "reason": "malformed_event"},
            {"index": 3, "reason": "unknown_content"},
        ],
        "events": 4,
        "ignored": 0,
    }
    records = [r for r in log_records(api.data_dir) if r.get("session_id") == "c1"]
    assert [r["type"] for r in records] == [
        "play_requested",
        "playback_started",
        "heartbeat",
        "heartbeat",
    ]
    assert records[1]["startup_ms"] == 300
    assert [r["played_ms"] for r in records[2:]] == [4000, 4000]
    assert records[3]["stall_count"] == 1
    assert {r["platform"] for r in records} == {"ios"}
    kept = [q for q in quarantined(api.data_dir) if q["detail"].startswith("cmcd cdn-log")]
    assert [(q["index"], q["reason"]) for q in kept] == [
        (1, "malformed_event"),
        (3, "unknown_content"),
    ]
    assert kept[0]["payload"] == "this is not json"


def test_the_body_is_checked_as_the_other_routes_check_it(api: ApiProcess) -> None:
    line = log_line(now_ms(), 'sid="c2",cid="vod_c",ot=m', "/m.m3u8")
    url = f"{api.url}/v1/cmcd/cdn-log"
    assert httpx.post(url, content=line, headers={"Content-Type": "text/plain",
                      "X-Write-Key": WRITE_KEY}).status_code == 415  # fmt: skip
    assert httpx.post(url, content=line, headers={"Content-Type": "application/x-ndjson"}
                      ).status_code == 401  # fmt: skip
    spec = httpx.get(f"{api.url}/openapi.json").json()
    assert "post" in spec["paths"]["/v1/cmcd/cdn-log"]


def test_refused_lines_and_bodies_keep_no_raw_viewer_id(api: ApiProcess) -> None:
    raw = "raw-viewer-cdn-log-7"
    key = "com.marquee-vid"
    t = now_ms() - HOUR_MS
    unknown = log_line(t, f'sid="c3",cid="not_in_catalogue",{key}="{raw}"', "/seg_0.m4s")
    escaped = json.dumps({"ts": t, "headers": {"CMCD-Session": f'{key}="{raw}"'}, "bad": 1})
    lines = [unknown, escaped.replace("-vid", "\\u002dvid"), f"not json {key}={raw}"]
    url = f"{api.url}/v1/cmcd/cdn-log"
    response = httpx.post(url, content="\n".join(lines), headers=NDJSON)
    assert response.status_code == 202
    assert len(response.json()["rejected"]) == 3
    body_refused = httpx.post(
        url, content="\n".join(lines), headers={**NDJSON, "Content-Type": "text/x-unlisted"}
    )
    assert body_refused.status_code == 415
    kept = [q for q in quarantined(api.data_dir) if f"{key}" in urllib.parse.unquote(q["payload"])]
    assert len(kept) == 4  # three lines, one body
    for record in kept:
        assert raw not in urllib.parse.unquote(record["payload"]), record
    assert not any(
        raw.encode() in path.read_bytes() for path in api.data_dir.rglob("*") if path.is_file()
    )

"""`received_at` is when the API began reading the request (EVENTS.md, event time).

A body that arrives slowly, in chunks, must not shift it: the client's clock is corrected
against the start of the request, and a CMCD report without `ts` happens at that start.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.api import APP_ID, WRITE_KEY, ApiProcess, start_api
from tests.support.stores import log_records

pytestmark = pytest.mark.integration

PAUSE_S = 2.5
"""How long the body's last chunk waits; `received_at` must lie well before it."""
ADMIN_TOKEN = "adm_test_only_received_at"


def now_ms() -> int:
    return int(time.time() * 1000)


def slowly(body: bytes) -> Iterator[bytes]:
    """The body in two chunks, the second after PAUSE_S (sent chunked, as it comes)."""
    middle = len(body) // 2
    yield body[:middle]
    time.sleep(PAUSE_S)
    yield body[middle:]


def test_event_time_is_corrected_against_the_start_of_a_slow_request(api: ApiProcess) -> None:
    started = now_ms()
    sent_at = started + 3_600_000  # the client's clock runs an hour fast
    event = {
        "event_id": str(uuid.uuid4()),
        "type": "play_requested",
        "ts": sent_at - 5_000,
        "viewer_id": "v_slow",
        "platform": "web",
        "creator_id": "cr_1",
        "content_id": "vod_1",
        "content_type": "vod",
        "session_id": "s_slow",
    }
    response = httpx.post(
        f"{api.url}/v1/events",
        content=slowly(json.dumps({"sent_at": sent_at, "events": [event]}).encode()),
        headers={"X-Write-Key": WRITE_KEY, "Content-Type": "application/json"},
    )
    assert response.json() == {"accepted": 1, "rejected": []}
    assert now_ms() - started >= PAUSE_S * 1000
    (record,) = log_records(api.data_dir)
    assert started <= record["received_at_ms"] < started + PAUSE_S * 1000 / 2
    assert record["event_time_ms"] == record["received_at_ms"] - 5_000


def test_cmcd_report_without_ts_happens_at_the_start_of_a_slow_request(
    tmp_path: Path,
) -> None:
    api = start_api(
        tmp_path / "data",
        {"MARQUEE_WRITE_KEYS": f"{APP_ID}:{WRITE_KEY}", "MARQUEE_ADMIN_TOKEN": ADMIN_TOKEN},
    )
    try:
        catalogue = [{"content_id": "vod_c", "creator_id": "cr_c", "content_type": "vod"}]
        put = httpx.put(
            f"{api.url}/v1/catalog/content",
            json=catalogue,
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        )
        assert put.status_code == 200
        started = now_ms()
        response = httpx.post(
            f"{api.url}/v1/cmcd",
            content=slowly(b'e=ps,sid="s_cmcd_slow",cid="vod_c",sta=s,v=2\n'),
            headers={"X-Write-Key": WRITE_KEY, "Content-Type": "application/cmcd"},
        )
        assert response.json()["accepted"] == 1
        assert now_ms() - started >= PAUSE_S * 1000
        (record,) = log_records(api.data_dir)
    finally:
        api.stop()
    assert started <= record["received_at_ms"] < started + PAUSE_S * 1000 / 2
    assert record["ts"] == record["event_time_ms"] == record["received_at_ms"]

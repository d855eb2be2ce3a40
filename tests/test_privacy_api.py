"""`POST /v1/privacy/erasure` and `GET /v1/privacy/erasure/{id}` on the real API process.

The admin token guards both; the body is checked; the job file holds the viewer's
pseudonyms (one per app, or the one app named), never the raw id; the viewer's events
sent after the answer are acknowledged and not written, and a rejected CMCD report of an
erased viewer is not quarantined; the OpenAPI document lists both.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from marquee.layout import DataLayout
from marquee.privacy.jobs import read_job
from tests.support.api import APP_ID, WRITE_KEY, LaunchedApi, event
from tests.support.cmcd import now_ms, report
from tests.support.erasure import pseudonym_of
from tests.support.stores import log_records, quarantined

pytestmark = pytest.mark.integration

ADMIN = "privacy-admin"
ERASURE = "/v1/privacy/erasure"
CMCD_VIEWER = "viewer-raw-7"
"""The viewer id `tests.support.cmcd.report` carries."""


def call(
    api: LaunchedApi, method: str, path: str, token: str | None = ADMIN, body: object = None
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.request(method, f"{api.url}{path}", headers=headers, json=body, timeout=30)


def test_erasure_endpoints(launched: Callable[..., LaunchedApi], data_dir: Path) -> None:
    api = launched({"MARQUEE_ADMIN_TOKEN": ADMIN})
    assert call(api, "POST", ERASURE, None, body={"viewer_id": "x"}).status_code == 401
    assert call(api, "POST", ERASURE, "wrong", body={"viewer_id": "x"}).status_code == 401
    json_type = {"Content-Type": "application/json"}
    refused: list[tuple[str, bytes, dict[str, str]]] = [
        ("malformed_body", b"{}", json_type),
        ("malformed_body", b'{"viewer_id": ""}', json_type),
        ("malformed_body", b'{"viewer_id": 7}', json_type),
        ("malformed_body", b'{"viewer_id": "x", "other": 1}', json_type),
        ("malformed_body", b"{", json_type),
        ("malformed_body", b'{"viewer_id": "' + b"x" * 129 + b'"}', json_type),
        ("unsupported_media_type", b'{"viewer_id": "x"}', {"Content-Type": "text/csv"}),
    ]
    for code, body, headers in refused:
        response = httpx.post(
            f"{api.url}{ERASURE}",
            content=body,
            headers={"Authorization": f"Bearer {ADMIN}", **headers},
            timeout=30,
        )
        assert response.json()["error"] == code, (body, response.text)

    everywhere = call(api, "POST", ERASURE, body={"viewer_id": "raw-viewer-1"})
    assert everywhere.status_code == 202
    assert everywhere.json()["status"] == "pending"
    one_app = call(api, "POST", ERASURE, body={"viewer_id": "raw-viewer-2", "app_id": APP_ID})
    retired = call(api, "POST", ERASURE, body={"viewer_id": "raw-viewer-3", "app_id": "old"})
    layout = DataLayout(data_dir)
    jobs = [read_job(layout, r.json()["erasure_id"]) for r in (everywhere, one_app, retired)]
    assert jobs[0] is not None and jobs[1] is not None and jobs[2] is not None
    assert len(jobs[0].pseudonyms) == 2 and len(jobs[1].pseudonyms) == 1
    assert jobs[1].pseudonyms == [pseudonym_of(data_dir, APP_ID, "raw-viewer-2")]
    assert jobs[2].pseudonyms == [pseudonym_of(data_dir, "old", "raw-viewer-3")]
    for path in (data_dir / "state" / "erasures").glob("*.json"):
        assert b"raw-viewer" not in path.read_bytes()

    status = call(api, "GET", f"{ERASURE}/{jobs[0].erasure_id}")
    assert status.status_code == 200
    assert status.json()["status"] == "pending" and status.json()["steps_done"] == []
    assert call(api, "GET", f"{ERASURE}/{'f' * 32}").json()["error"] == "erasure_not_found"
    assert call(api, "GET", f"{ERASURE}/..%2F..%2Fsecret").status_code == 404
    assert call(api, "GET", f"{ERASURE}/{jobs[0].erasure_id}", None).status_code == 401

    sent = [event(viewer_id="raw-viewer-1"), event(viewer_id="someone-else")]
    response = api.post({"events": sent})
    assert response.json() == {"accepted": 2, "rejected": []}
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not log_records(data_dir):
        time.sleep(0.1)
    assert [r["event_id"] for r in log_records(data_dir)] == [sent[1]["event_id"]]

    assert call(api, "POST", ERASURE, body={"viewer_id": CMCD_VIEWER}).status_code == 202
    cmcd = httpx.post(
        f"{api.url}/v1/cmcd",
        content=report("c1", 0, now_ms(), "e=ps,sta=s", cid="not_in_catalogue") + "\n",
        headers={"X-Write-Key": WRITE_KEY, "Content-Type": "application/cmcd"},
    )
    assert cmcd.json()["rejected"] == [{"index": 0, "reason": "unknown_content"}]
    time.sleep(1.5)  # the quarantine's open segment would be sealed by now
    assert not [q for q in quarantined(data_dir) if "not_in_catalogue" in q["payload"]]

    paths = httpx.get(f"{api.url}/openapi.json").json()["paths"]
    assert "post" in paths[ERASURE] and "get" in paths[ERASURE + "/{erasure_id}"]


def test_erasure_is_off_without_an_admin_token(launched: Callable[..., LaunchedApi]) -> None:
    api = launched()
    response = call(api, "POST", ERASURE, body={"viewer_id": "x"})
    assert response.status_code == 503
    assert response.json()["error"] == "admin_token_not_configured"

"""Privacy erasure through the real parts: API, pipeline, refresh loop and erasure worker.

The golden scenario's viewers send their events through the real API (and two events are
quarantined, one of the viewer to erase); the pipeline and the refresh loop land and
publish them. Then `POST /v1/privacy/erasure` erases viewer `v_g_4` (live, story,
reaction and view rows), a late event of that viewer arrives, and the refresh loop runs
the erasure before its build. Afterwards no store holds the viewer's pseudonym (segments,
quarantine, every lake file, the warehouse, the published copy), every table of the lake
and of the published copy is exactly what it was with the pseudonym replaced by the
erasure's random token (so every aggregate and every other viewer's row is unchanged;
only the pipeline's progress tables move on with its second run),
the late event was dropped at ingest, and the audit line names neither the viewer nor
their pseudonym.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from marquee.layout import DataLayout
from marquee.privacy.jobs import audit_log
from tests.support import REPO_ROOT
from tests.support.api import APP_ID, LaunchedApi
from tests.support.erasure import (
    lake_snapshot,
    places_holding,
    pseudonym_of,
    rekeyed,
    snapshot,
    token_of,
)
from tests.support.golden import load_scenario

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

ADMIN = "admin-token-for-erasure"
ERASED = "v_g_4"
KEPT = "v_g_1"


def run(*argv: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, MARQUEE_DATA_DIR=str(data_dir))
    return subprocess.run(
        [sys.executable, *argv], cwd=REPO_ROOT, env=env, capture_output=True, text=True,
        timeout=600,
    )  # fmt: skip


def admin(method: str, api: LaunchedApi, path: str, body: Any = None) -> httpx.Response:
    return httpx.request(
        method,
        f"{api.url}{path}",
        json=body,
        headers={"Authorization": f"Bearer {ADMIN}"},
        timeout=30,
    )


def wait_sealed(data_dir: Path) -> None:
    """Until the API's open segments are sealed (they are, every 0.5 s here)."""
    deadline = time.monotonic() + 20
    while any((data_dir / "log").glob("*.open")) and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(0.5)


def test_erasure_removes_a_viewer_everywhere_and_keeps_every_aggregate(
    launched: Callable[..., LaunchedApi], data_dir: Path
) -> None:
    api = launched({"MARQUEE_ADMIN_TOKEN": ADMIN})
    scenario = load_scenario()
    for kind in ("creators", "content"):
        response = admin("PUT", api, f"/v1/catalog/{kind}", scenario["catalogue"][kind])
        assert response.status_code == 200, response.text
    events = scenario["events_in_delivery_order"]
    assert {ERASED, KEPT} <= {event["viewer_id"] for event in events}
    for start in range(0, len(events), 7):
        response = api.post({"events": events[start : start + 7]})
        assert response.status_code == 202 and response.json()["rejected"] == []
    bad = [dict(events[0], viewer_id=viewer, platform="toaster") for viewer in (ERASED, KEPT)]
    assert len(api.post({"events": bad}).json()["rejected"]) == 2

    wait_sealed(data_dir)
    pipeline = run("-m", "pipelines", "local", "--once", data_dir=data_dir)
    assert pipeline.returncode == 0, pipeline.stderr[-3000:]
    refresh = run("-m", "refresh", "--once", data_dir=data_dir)
    assert refresh.returncode in (0, 2), refresh.stdout[-3000:]

    layout = DataLayout(data_dir)
    erased = pseudonym_of(data_dir, APP_ID, ERASED)
    kept = pseudonym_of(data_dir, APP_ID, KEPT)
    places = places_holding(data_dir, erased)
    stores = {place.split("/")[0].split(":")[0] for place in places}
    assert {"log", "quarantine", "lake", "dbt.duckdb", "serving.duckdb"} <= stores, (
        places,
        refresh.stdout[-3000:],
    )
    lake_before = lake_snapshot(layout.lake_dir)
    serving_before = snapshot(layout.serving_db)

    response = admin("POST", api, "/v1/privacy/erasure", {"viewer_id": ERASED})
    assert response.status_code == 202, response.text
    erasure_id = response.json()["erasure_id"]
    assert response.json()["status"] == "pending"
    assert admin("GET", api, f"/v1/privacy/erasure/{erasure_id}").json()["status"] == "pending"
    assert admin("GET", api, "/v1/privacy/erasure/" + "0" * 32).status_code == 404
    assert httpx.get(f"{api.url}/v1/privacy/erasure/{erasure_id}").status_code == 401

    late = dict(events[0], event_id="5d0e2a1c-0000-4000-8000-00000000a7e1", viewer_id=ERASED)
    late["ts"] = int((time.time() - 3600) * 1000)
    response = api.post({"events": [late]})
    assert response.status_code == 202 and response.json() == {"accepted": 1, "rejected": []}

    erasure = run("-m", "refresh", "--once", data_dir=data_dir)
    assert erasure.returncode in (0, 2), erasure.stdout[-3000:]
    assert f"erasure {erasure_id} completed" in erasure.stdout

    status = admin("GET", api, f"/v1/privacy/erasure/{erasure_id}").json()
    assert status["status"] == "completed", status
    assert status["steps_done"] == status["steps"]
    assert erased not in json.dumps(status)

    wait_sealed(data_dir)
    pipeline = run("-m", "pipelines", "local", "--once", data_dir=data_dir)
    assert pipeline.returncode == 0, pipeline.stderr[-3000:]
    refresh = run("-m", "refresh", "--once", data_dir=data_dir)
    assert refresh.returncode in (0, 2), refresh.stdout[-3000:]

    assert places_holding(data_dir, erased) == []
    assert places_holding(data_dir, kept), "the other viewer's rows are kept"
    token = token_of(data_dir, erasure_id)
    assert places_holding(data_dir, token), "the erased viewer's rows still count, re-keyed"
    assert lake_snapshot(layout.lake_dir) == rekeyed(lake_before, erased, token)
    published = rekeyed(serving_before, erased, token)
    after = snapshot(layout.serving_db)
    assert set(after) == set(published)
    changed = {name for name in after if after[name] != published[name]}
    assert changed <= set(filter(is_bookkeeping, after)), changed

    audit = audit_log(layout).read_text().splitlines()
    assert len(audit) == 1 and json.loads(audit[0])["erasure_id"] == erasure_id
    assert erased not in audit[0] and ERASED not in audit[0] and token not in audit[0]
    raw = ERASED.encode()
    for path in data_dir.rglob("*"):
        if path.is_file() and path.suffix not in (".parquet", ".duckdb"):
            assert raw not in path.read_bytes(), f"raw viewer id in {path}"


def is_bookkeeping(table: str) -> bool:
    """Tables of the pipeline's progress, which the second pipeline run moves on."""
    return table in ("main.incremental_runs_this_run", "main.source_freshness")

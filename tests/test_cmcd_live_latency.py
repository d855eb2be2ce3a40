"""Live latency parity: one live playback as native events and as CMCD v2 `ltc` reports.

Both go through the real API process (the catalogue says the content is live) and the
real pipeline; the lake's live latency values, and so every percentile dbt computes from
them, must be the same. The CMCD mapping itself is unit-tested in test_cmcd_mapping.py.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx
import polars as pl
import pytest

from marquee.lake import LIVE_LATENCY_MINUTE_VALUES
from marquee.layout import DataLayout
from pipelines.local_runner import LocalRunner
from tests.support.api import APP_ID, WRITE_KEY, start_api
from tests.support.cmcd import CATALOGUE, now_ms
from tests.support.live_latency import percentile

pytestmark = pytest.mark.integration

ADMIN_TOKEN = "adm_test_only_cmcd_latency"
ENV = {"MARQUEE_ADMIN_TOKEN": ADMIN_TOKEN, "MARQUEE_WRITE_KEYS": f"{APP_ID}:{WRITE_KEY}"}
LATENCIES = [(10_800, 3100), (20_800, 4200), (30_800, 2900), (70_800, 5100), (80_800, 4700)]
"""(ms after the request, live latency) of each interval report / heartbeat: three in the
first minute, two in the next."""


def native_events(t0: int) -> list[dict[str, Any]]:
    def event(type_: str, at: int, **fields: Any) -> dict[str, Any]:
        return {
            "event_id": str(uuid.uuid4()),
            "type": type_,
            "ts": t0 + at,
            "viewer_id": "viewer-lat",
            "platform": "web",
            "creator_id": "cr_live",
            "content_id": "live_c",
            "content_type": "live",
            "session_id": "s_lat",
            **fields,
        }

    return [
        event("play_requested", 0),
        event("playback_started", 800, startup_ms=800),
        *(
            event("heartbeat", at, played_ms=10_000, state="playing", live_latency_ms=latency)
            for at, latency in LATENCIES
        ),
        event("playback_ended", 90_800, reason="user_exit", played_ms=10_000),
    ]


def cmcd_lines(t0: int) -> list[str]:
    common = 'sid="s_lat",cid="live_c",com.marquee-vid="viewer-lat",com.marquee-pf=web,st=l,v=2'
    lines = [
        f"{common},sn=0,e=ps,sta=s,ts={t0}",
        f"{common},sn=1,e=ps,sta=p,msd=800,ts={t0 + 800}",
    ]
    for sn, (at, latency) in enumerate(LATENCIES, start=2):
        lines.append(f"{common},sn={sn},e=t,sta=p,ts={t0 + at},ltc={latency}")
    lines.append(f"{common},sn=7,e=ps,sta=q,ts={t0 + 90_800},ltc=9999")
    return lines


def latency_values(data_dir: Path) -> pl.DataFrame:
    LocalRunner(DataLayout(data_dir)).drain()
    frame = pl.read_parquet(data_dir / "lake" / LIVE_LATENCY_MINUTE_VALUES / "*.parquet")
    keys = ["epoch_minute", "content_id", "creator_id", "content_type", "live_latency_ms"]
    return frame.group_by(keys).agg(pl.col("heartbeats").sum()).sort(keys)


def test_native_and_cmcd_reports_give_the_same_latency(tmp_path: Path) -> None:
    t0 = (now_ms() - 3_600_000) // 60_000 * 60_000 + 5_000
    native_dir, cmcd_dir = tmp_path / "native", tmp_path / "cmcd"
    native, cmcd = start_api(native_dir, ENV), start_api(cmcd_dir, ENV)
    try:
        events = native_events(t0)
        assert native.post({"events": events}).json() == {"accepted": 8, "rejected": []}
        response = httpx.put(
            f"{cmcd.url}/v1/catalog/content",
            json=CATALOGUE,
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        )
        assert response.status_code == 200
        response = httpx.post(
            f"{cmcd.url}/v1/cmcd",
            content="\n".join(cmcd_lines(t0)) + "\n",
            headers={"X-Write-Key": WRITE_KEY, "Content-Type": "application/cmcd"},
        )
        assert response.status_code == 202 and response.json()["rejected"] == []
    finally:
        native.stop()
        cmcd.stop()

    from_native, from_cmcd = latency_values(native_dir), latency_values(cmcd_dir)
    assert from_cmcd.to_dicts() == from_native.to_dicts()
    first_minute = (t0 + 10_800) // 60_000
    per_minute: dict[int, list[int]] = {}
    for row in from_cmcd.iter_rows(named=True):
        per_minute.setdefault(row["epoch_minute"] - first_minute, []).extend(
            [row["live_latency_ms"]] * row["heartbeats"]
        )
    assert per_minute == {0: [2900, 3100, 4200], 1: [4700, 5100]}, "the end's ltc is no heartbeat"
    session = sorted(v for values in per_minute.values() for v in values)
    assert percentile(session, 0.5) == 4200
    assert percentile(session, 0.95) == pytest.approx(4700 + 0.8 * 400)

"""Events that once stopped every later build go through the real API, the pipeline and a
refresh: the refresh publishes, the good events of the same minutes are counted, and the
bad ones are kept with their reasons (the API's quarantine, the pipeline's dead letters).

Before: a tip of 2^63-1, or startup_ms / played_ms of 2^62, was accepted and summed into
negative numbers, and one content id sent as a VOD and as a story broke the stories'
rules; each made every later `dbt build` fail and froze the dashboards.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import duckdb
import pytest

from marquee.layout import DataLayout
from refresh.build_report import read_refresh_status
from tests.support import REPO_ROOT
from tests.support.api import start_api

pytestmark = pytest.mark.e2e

MINUTE_MS = 60_000


def event(type_: str, at_ms: int, **fields: Any) -> dict[str, Any]:
    return {
        "event_id": str(uuid.uuid4()),
        "type": type_,
        "ts": at_ms,
        "viewer_id": "viewer-1",
        "platform": "web",
        "creator_id": "cr_poison",
        **fields,
    }


def player(type_: str, at_ms: int, content_id: str, content_type: str, **fields: Any) -> Any:
    return event(
        type_,
        at_ms,
        content_id=content_id,
        content_type=content_type,
        session_id=f"s-{content_id}-{content_type}",
        **fields,
    )


def run(module: str, *args: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=REPO_ROOT,
        env=dict(os.environ, MARQUEE_DATA_DIR=str(data_dir)),
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


def test_poison_events_are_kept_out_and_the_refresh_publishes_the_good_ones(
    data_dir: Path,
) -> None:
    minute = (int(time.time() * 1000) - 30 * MINUTE_MS) // MINUTE_MS * MINUTE_MS
    good = [
        player("play_requested", minute + 1_000, "vod_p", "vod"),
        player("playback_started", minute + 1_500, "vod_p", "vod", startup_ms=500),
        player("heartbeat", minute + 11_500, "vod_p", "vod", played_ms=10_000),
        event("tip", minute + 2_000, amount_minor=500, currency="EUR"),
        event("story_viewed", minute + 3_000, content_id="dual", content_type="story"),
    ]
    poison = [
        event("tip", minute + 2_500, amount_minor=2**63 - 1, currency="EUR"),
        player("playback_started", minute + 1_600, "vod_p", "vod", startup_ms=2**62),
        player("heartbeat", minute + 12_000, "vod_p", "vod", played_ms=2**62),
    ]
    # The same content later named a VOD: accepted by the API (it keeps no state), set
    # aside by the pipeline, which decided "story" from the first event.
    conflicting = player("play_requested", minute + 4_000, "dual", "vod")

    api = start_api(data_dir)
    try:
        first = api.post({"events": good + poison})
        assert first.status_code == 202, first.text
        assert first.json()["accepted"] == len(good)
        rejected = {item["index"]: item["reason"] for item in first.json()["rejected"]}
        assert rejected == dict.fromkeys(range(len(good), len(good) + 3), "out_of_range")
        time.sleep(1.0)  # the first batch's segment seals before the conflicting event
        later = api.post({"events": [conflicting]})
        assert later.status_code == 202 and later.json()["accepted"] == 1, later.text
    finally:
        api.stop()

    pipeline = run("pipelines", "local", "--once", data_dir=data_dir)
    assert pipeline.returncode == 0, pipeline.stderr[-3000:]
    refresh = run("refresh.loop", "--once", data_dir=data_dir)
    assert refresh.returncode == 0, refresh.stdout[-5000:]

    layout = DataLayout(data_dir)
    status = read_refresh_status(layout.refresh_status)
    assert status is not None and status["published"], status
    assert status["model_errors"] == [] and status["test_failures"] == [], status
    with duckdb.connect(str(layout.serving_db), read_only=True) as serving:
        view = serving.sql(
            "select startup_ms, played_ms from playback_sessions where content_id = 'vod_p'"
        ).fetchall()
        tips = serving.sql(
            "select sum(tips)::int, sum(tips_amount_minor)::int "
            "from stg_pipeline__tip_minute_aggregates where creator_id = 'cr_poison'"
        ).fetchall()
        stories = serving.sql("select story_id, impressions from stories").fetchall()
        dual_views = serving.sql(
            "select count(*) from playback_sessions where content_id = 'dual'"
        ).fetchall()
        quarantined = serving.sql(
            "select reason, sum(rejected_events)::int from rejected_events_hourly group by 1"
        ).fetchall()
        dead = serving.sql("select reason, dead_letters from pipeline_dead_letters").fetchall()
    assert view == [(500, 10_000)]
    assert tips == [(1, 500)]
    assert stories == [("dual", 1)]
    assert dual_views == [(0,)]
    assert quarantined == [("out_of_range", 3)]
    assert dead == [("content_type_conflict", 1)]

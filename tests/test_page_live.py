"""The Live now page (`/live`) through AppTest: on-air streams from the lake, per minute.

Three data directories:

- `fresh`: a live stream whose events lie two and three minutes before now, posted through
  the real API and committed by the pipeline's local mode once (no dbt build: the page reads
  the lake, not the warehouse). Its numbers are derived by hand below.
- the golden scenario's (`tests.support.dashboards.golden_data_dir`, rebased ~6 h ago): its
  live stream `live_g_1` is the newest data, so it is on air as of the newest minute, which
  is hours old: the freshness line is red.
- a copy of the golden one with a later run holding only a VOD minute 30 minutes after the
  live: nothing is on air, and the page lists the recent live sessions of the marts.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from streamlit.runtime.forward_msg_queue import ForwardMsgQueue
from streamlit.testing.v1 import AppTest

from marquee.lake import MINUTE_AGGREGATES, MINUTE_AGGREGATES_SCHEMA, write_table_atomically
from marquee.layout import DataLayout
from tests.support import REPO_ROOT
from tests.support.api import APP_ID, WRITE_KEY, start_api
from tests.support.dashboards import golden_data_dir, metrics, open_page, use_data_dir

pytestmark = pytest.mark.integration

ADMIN_TOKEN = "live-page-admin"
LIVE_ID = "live_t_1"
CREATOR_ID = "cr_t_1"


def _event(kind: str, at_ms: int, viewer: str, **fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "event_id": str(uuid.uuid4()),
        "type": kind,
        "ts": at_ms,
        "viewer_id": viewer,
        "platform": "web",
        "country": "DE",
        "creator_id": CREATOR_ID,
    }
    return {**base, **fields}


def _player(kind: str, at_ms: int, viewer: str, session: str, **fields: Any) -> dict[str, Any]:
    return _event(
        kind, at_ms, viewer, content_id=LIVE_ID, content_type="live", session_id=session, **fields
    )


def _heartbeat(
    at_ms: int, viewer: str, session: str, played: int, stalled: int = 0, latency: int = 0
) -> Any:
    return _player(
        "heartbeat", at_ms, viewer, session, played_ms=played, stalled_ms=stalled,
        stall_count=1 if stalled else 0, seek_ms=0, bitrate_kbps=2500, playhead_ms=0,
        state="playing", **({"live_latency_ms": latency} if latency else {}),
    )  # fmt: skip


def fresh_events(m1: int, m2: int) -> list[dict[str, Any]]:
    """Minute m1 (epoch ms of its start) and m2 = m1 + 1 minute:

    - view A (viewer 1): requested m1+5 s, started m1+6 s (startup 1000 ms), heartbeat at
      m1+40 s with 30,000 ms played and 2,000 ms stalled, heartbeats at m2+10 s and m2+40 s
      with 30,000 ms played each;
    - view B (viewer 2): requested m1+20 s, started m1+21 s (startup 500 ms), heartbeat at
      m2+20 s with 45,000 ms played;
    - view C (viewer 3): requested m2+30 s, fatal error at m2+31 s;
    - chat: viewer 1 at m1+30 s and m1+50 s, viewer 2 at m2+15 s, viewer 3 at m2+45 s;
    - tips to the creator: 300 USD minor units at m1+10 s, 500 EUR at m2+20 s;
    - live latency: 4000 ms on view A's m1 heartbeat; in m2 3000 and 5000 (A) and 9000 (B):
      p50 5000, p95 at position 1.9 = 5000 + 0.9 * 4000 = 8600.
    """
    s = 1000
    chat = {"content_id": LIVE_ID, "content_type": "live", "live_id": LIVE_ID, "length": 12}
    return [
        _player("play_requested", m1 + 5 * s, "v_t_1", "s_t_A", autoplay=False),
        _player("playback_started", m1 + 6 * s, "v_t_1", "s_t_A", startup_ms=1000),
        _heartbeat(m1 + 40 * s, "v_t_1", "s_t_A", played=30_000, stalled=2_000, latency=4000),
        _heartbeat(m2 + 10 * s, "v_t_1", "s_t_A", played=30_000, latency=3000),
        _heartbeat(m2 + 40 * s, "v_t_1", "s_t_A", played=30_000, latency=5000),
        _player("play_requested", m1 + 20 * s, "v_t_2", "s_t_B", autoplay=False),
        _player("playback_started", m1 + 21 * s, "v_t_2", "s_t_B", startup_ms=500),
        _heartbeat(m2 + 20 * s, "v_t_2", "s_t_B", played=45_000, latency=9000),
        _player("play_requested", m2 + 30 * s, "v_t_3", "s_t_C", autoplay=False),
        _player("playback_error", m2 + 31 * s, "v_t_3", "s_t_C", code="E1", fatal=True),
        _event("chat_message", m1 + 30 * s, "v_t_1", **chat),
        _event("chat_message", m1 + 50 * s, "v_t_1", **chat),
        _event("chat_message", m2 + 15 * s, "v_t_2", **chat),
        _event("chat_message", m2 + 45 * s, "v_t_3", **chat),
        _event("tip", m1 + 10 * s, "v_t_2", amount_minor=300, currency="USD"),
        _event("tip", m2 + 20 * s, "v_t_1", amount_minor=500, currency="EUR"),
    ]


@pytest.fixture(scope="module")
def fresh_dir(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    """A data dir with the live stream of `fresh_events`, minutes 3 and 2 before now; returns
    it and the epoch minute of m2."""
    data_dir = tmp_path_factory.mktemp("live_fresh") / "data"
    now_minute = int(time.time()) // 60
    m2 = now_minute - 2
    api = start_api(
        data_dir,
        {"MARQUEE_WRITE_KEYS": f"{APP_ID}:{WRITE_KEY}", "MARQUEE_ADMIN_TOKEN": ADMIN_TOKEN},
    )
    try:
        catalogue = {
            "creators": [{"creator_id": CREATOR_ID, "name": "Creator t"}],
            "content": [
                {"content_id": LIVE_ID, "creator_id": CREATOR_ID, "content_type": "live",
                 "title": "Test stream"},
            ],
        }  # fmt: skip
        for kind, records in catalogue.items():
            answer = httpx.put(
                f"{api.url}/v1/catalog/{kind}",
                json=records,
                headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
            )
            assert answer.status_code == 200, answer.text
        answer = api.post({"events": fresh_events((m2 - 1) * 60_000, m2 * 60_000)})
        assert answer.status_code == 202, answer.text
        assert answer.json()["rejected"] == [], answer.text
    finally:
        api.stop()
    pipeline = subprocess.run(
        [sys.executable, "-m", "pipelines", "local", "--once"],
        cwd=REPO_ROOT, env=dict(os.environ, MARQUEE_DATA_DIR=str(data_dir)),
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert pipeline.returncode == 0, pipeline.stderr[-3000:]
    return data_dir, m2


@pytest.fixture
def fresh(fresh_dir: tuple[Path, int], monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    data_dir, m2 = fresh_dir
    for _ in use_data_dir(monkeypatch, data_dir):
        yield m2


@pytest.fixture
def golden(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Any:
    _scenario, data_dir = golden_data_dir(tmp_path_factory)
    yield from use_data_dir(monkeypatch, data_dir)


def _texts(at: AppTest, kind: str) -> list[str]:
    return [element.value for element in getattr(at, kind)]


def _stream_minutes(at: AppTest) -> dict[str, dict[str, Any]]:
    """The one-stream table (the second dataframe), by its minute label."""
    frame = at.dataframe[1].value
    return {row["Minute (UTC)"]: row for row in frame.to_dict("records")}


def _hhmm(epoch_minute: int) -> str:
    return time.strftime("%H:%M", time.gmtime(epoch_minute * 60))


def test_fresh_stream_per_minute(fresh: int) -> None:
    m2 = fresh
    at = open_page("live")
    shown = metrics(at)
    label = f"({_hhmm(m2)} UTC)"
    # The newest complete minute is m2: (30,000 + 30,000 + 45,000) ms played / 60,000.
    assert shown["Streams on air"] == "1"
    assert shown[f"Concurrent viewers {label}"] == "1.8"  # 1.75 rounded to one decimal
    assert shown[f"Chat messages {label}"] == "2"
    assert shown[f"Chatters {label}"] == "2"
    streams = at.dataframe[0].value
    assert list(streams["Stream"]) == ["Test stream"]  # the catalogue's title, not the id
    assert list(streams["Creator"]) == ["Creator t"]
    assert streams["Peak concurrent viewers (hour)"].iloc[0] == pytest.approx(1.75)
    assert streams["Tips (hour)"].iloc[0] == 2
    assert streams["Live latency p50 (ms)"].iloc[0] == pytest.approx(5000)
    assert streams["Live latency p95 (ms)"].iloc[0] == pytest.approx(8600)
    rows = _stream_minutes(at)
    first, second = rows[_hhmm(m2 - 1)], rows[_hhmm(m2)]
    # m1: view A's 30,000 played + 2,000 stalled ms; requests A and B, no error; startups
    # 1000 and 500 ms; rebuffer 2,000 / (1,500 startup + 30,000 + 2,000) ms.
    assert first["Concurrent viewers"] == pytest.approx(32_000 / 60_000)
    assert (first["Chat messages"], first["Chatters"], first["Tips"]) == (2, 1, 1)
    assert first["Play requests"] == 2
    assert first["Playback failure %"] == pytest.approx(0.0)
    assert first["Mean startup (ms)"] == pytest.approx(750.0)
    assert first["Rebuffer %"] == pytest.approx(100 * 2_000 / 33_500)
    # m2: views A (60,000) and B (45,000) played; view C requested and failed fatally.
    assert second["Concurrent viewers"] == pytest.approx(1.75)
    assert (second["Chat messages"], second["Chatters"], second["Tips"]) == (2, 2, 1)
    assert second["Playback failure %"] == pytest.approx(100.0)
    assert second["Rebuffer %"] == pytest.approx(0.0)
    assert first["Live latency p50 (ms)"] == first["Live latency p95 (ms)"] == 4000
    assert (second["Live latency p50 (ms)"], second["Live latency p95 (ms)"]) == pytest.approx(
        (5000, 8600)
    )
    captions = " ".join(_texts(at, "caption"))
    assert "1 in EUR (500 minor units)" in captions and "1 in USD (300 minor units)" in captions
    # Two minutes old at most when built: not red (the red line is for data 10 min old).
    assert not at.error
    assert any(
        "Newest complete minute" in text for text in _texts(at, "caption") + _texts(at, "warning")
    )


def test_golden_live_on_air_as_of_its_newest_minute_and_red(golden: Path) -> None:
    at = open_page("live")
    shown = metrics(at)
    assert shown["Streams on air"] == "1"
    # live_g_1's second minute: two views each ending with 60,000 ms played, no chat.
    concurrent = [value for label, value in shown.items() if label.startswith("Concurrent")]
    assert concurrent == ["2.0"]
    chat = [value for label, value in shown.items() if label.startswith("Chat messages")]
    assert chat == ["0"]
    rows = at.dataframe[1].value
    # First minute: the two play requests and starts (900 ms each), nothing played yet.
    assert sorted(rows["Concurrent viewers"]) == [0.0, 2.0]
    assert list(rows["Chatters"]) == [0, 0]
    assert sorted(rows["Mean startup (ms)"].dropna()) == [900.0]
    # The data is about 4 h old: the freshness line is an error.
    assert any("Newest complete minute" in text for text in _texts(at, "error"))


def test_golden_creator_and_type_filters(golden: Path) -> None:
    at = open_page("live", {"creator": "cr_g_1"})
    assert metrics(at)["Streams on air"] == "1"
    at = open_page("live", {"type": "vod"})
    assert not at.metric
    assert any("Nothing matches" in text for text in _texts(at, "info"))


def test_nothing_on_air_lists_recent_sessions(
    golden: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A later run holds only a VOD minute 30 minutes after the live: nothing is on air."""
    copy = tmp_path / "data"
    shutil.copytree(golden, copy)
    layout = DataLayout(copy)
    status = json.loads(layout.pipeline_status.read_text())
    newest_run = status["last_run_id"]
    minute_dir = layout.lake_table_dir(MINUTE_AGGREGATES)
    existing = pa.concat_tables(
        [pq.read_table(p) for p in sorted(minute_dir.glob("run-*.parquet"))]
    )
    later = max(existing.column("epoch_minute").to_pylist()) + 30
    row: dict[str, list[Any]] = {name: [0] for name in MINUTE_AGGREGATES_SCHEMA.names}
    row.update(
        epoch_minute=[later], content_id=["vod_g_1"], creator_id=["cr_g_1"],
        content_type=["vod"], platform=["web"], country=["US"], attempts=[1],
        run_id=[newest_run + 1],
    )  # fmt: skip
    write_table_atomically(
        pa.table(row, schema=MINUTE_AGGREGATES_SCHEMA),
        minute_dir / f"run-{newest_run + 1:012d}.parquet",
    )
    layout.pipeline_status.write_text(json.dumps({**status, "last_run_id": newest_run + 1}))
    for _ in use_data_dir(monkeypatch, copy):
        at = open_page("live")
        assert not at.metric
        assert any("Nothing is on air" in text for text in _texts(at, "info"))
        links = [link for link in at.get("page_link")]
        assert any(
            "live_g_1" in link.proto.page or "Creator g" in link.proto.label for link in links
        ), [link.proto for link in links]


def test_empty_lake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No lake at all, then a lake with only its schema files: an explanation, no exception."""
    data_dir = tmp_path / "data"
    for _ in use_data_dir(monkeypatch, data_dir):
        at = open_page("live")
        assert any("No live data yet" in text for text in _texts(at, "info"))
    from marquee.lake import ensure_lake

    ensure_lake(DataLayout(data_dir).ensure())
    for _ in use_data_dir(monkeypatch, data_dir):
        at = open_page("live")
        assert any("No live data yet" in text for text in _texts(at, "info"))
        assert not at.metric


def test_page_refreshes_itself_every_10_s_at_most(
    golden: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The page's fragment asks the browser to rerun it (an auto_rerun message)."""
    intervals: list[float] = []
    enqueue = ForwardMsgQueue.enqueue

    def recording(self: ForwardMsgQueue, msg: Any) -> None:
        if msg.WhichOneof("type") == "auto_rerun":
            intervals.append(msg.auto_rerun.interval)
        enqueue(self, msg)

    monkeypatch.setattr(ForwardMsgQueue, "enqueue", recording)
    open_page("live")
    assert intervals and all(0 < interval <= 10 for interval in intervals), intervals

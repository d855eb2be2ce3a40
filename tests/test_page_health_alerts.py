"""The Data health page's Alerts section: the history the evaluator writes, the alerts firing
now, and what the page says before any alert was notified.

The history is written by the evaluator's own store (`alerts.state.AlertStore`) from
judged rows, into an otherwise empty data directory (no warehouse), and the whole app runs
in process (`AppTest`).
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import polars as pl
import pytest

from alerts.evaluate import LakeData, evaluate
from alerts.metrics import MINUTE_MS, merge_views
from alerts.rules import Rule
from alerts.state import AlertStore
from marquee.lake_runs import PipelineStatus
from marquee.layout import DataLayout
from tests.support.alert_rows import burst, no_minutes
from tests.support.dashboards import open_page, texts

pytestmark = [pytest.mark.unit, pytest.mark.timeout(300)]

RULE = Rule("playback_failures", "playback_failure_pct", "content", "threshold", "above", 20.0)


def notify(layout: DataLayout, rows: list[dict], now_ms: int) -> None:
    data = LakeData(merge_views(pl.DataFrame(rows)), no_minutes(), PipelineStatus(None, None))
    store = AlertStore.open(layout.alerts_dir)
    store.apply(evaluate([RULE], data, now_ms), [RULE], now_ms, lambda: str(uuid.uuid4()))


def test_firing_and_resolved_alerts_are_listed(empty_dir: Path) -> None:
    layout = DataLayout(empty_dir)
    now = (int(time.time() * 1000) // MINUTE_MS) * MINUTE_MS + 30_000
    notify(layout, burst("live_bad", 25, 25, now - 20_000), now)
    notify(layout, burst("live_worse", 25, 20, now - 20_000), now)
    later = now + MINUTE_MS
    notify(layout, burst("live_bad", 25, 0, later - 20_000), later)

    at = open_page("health")
    firing, history = [
        frame.value for frame in at.dataframe if list(frame.value.columns)[:1] == ["At (UTC)"]
    ]
    assert list(history["Status"]) == ["resolved", "firing", "firing"]
    assert list(history["Of"]) == ["live_bad", "live_worse", "live_bad"]
    assert "live_worse" in history["Notification"][1]
    assert "1 alert(s) firing now." in texts(at, "error")
    assert list(firing["Of"]) == ["live_worse"]


def test_no_alert_yet_says_how_alerts_are_made(empty_dir: Path) -> None:
    at = open_page("health")
    assert "No alert has been notified yet" in texts(at, "info")
    assert "MARQUEE_ALERT_WEBHOOK_URL" in texts(at, "info")

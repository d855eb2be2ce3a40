"""The Data health page (`/health`): the pipeline's and the last build's status from their
files, then freshness, rejections and dead letters from the warehouse; and the page still
explains itself when there is no warehouse, no status file, or a broken one."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from dashboards.queries import data_health as queries
from marquee.layout import DataLayout
from tests.support import REPO_ROOT
from tests.support.api import APP_ID, WRITE_KEY, start_api
from tests.support.dashboards import metrics, open_page, table, use_data_dir

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

INVALID_EVENTS = {"unknown_type": 2, "missing_field": 1, "invalid_field": 3}
"""Events posted through the API into a copy of the golden data directory, by the reason
the API must give them (docs/api.md)."""


def texts(at: AppTest, kind: str) -> list[str]:
    return [str(element.value) for element in getattr(at, kind)]


def broken_event(event: dict[str, Any], reason: str) -> dict[str, Any]:
    """A copy of a golden event, with a fresh id, broken so the API rejects it for `reason`."""
    broken = dict(event, event_id=str(uuid.uuid4()))
    if reason == "unknown_type":
        broken["type"] = "playback_exploded"
    elif reason == "missing_field":
        del broken["viewer_id"]
    else:
        broken["platform"] = "smart_fridge"
    return broken


@pytest.fixture(scope="module")
def rejections_dir(
    tmp_path_factory: pytest.TempPathFactory, golden: tuple[dict[str, Any], Path]
) -> Path:
    """A copy of the golden data directory after invalid events went through the real API
    and one real refresh cycle (dbt build, tests, checkpoint, publish) ran over it."""
    scenario, source = golden
    data_dir = tmp_path_factory.mktemp("health") / "data"
    shutil.copytree(source, data_dir)
    template = scenario["events_in_delivery_order"][0]
    body = [
        broken_event(template, reason)
        for reason, count in INVALID_EVENTS.items()
        for _ in range(count)
    ]
    api = start_api(data_dir, {"MARQUEE_WRITE_KEYS": f"{APP_ID}:{WRITE_KEY}"})
    try:
        response = api.post({"events": body})
    finally:
        api.stop()
    assert response.status_code == 202, response.text
    reasons = sorted(item["reason"] for item in response.json()["rejected"])
    assert reasons == sorted(r for r, n in INVALID_EVENTS.items() for _ in range(n))
    refresh = subprocess.run(
        [sys.executable, "-m", "refresh", "--once"],
        cwd=REPO_ROOT, env=dict(os.environ, MARQUEE_DATA_DIR=str(data_dir)),
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert refresh.returncode == 0, refresh.stdout[-3000:] + refresh.stderr[-3000:]
    return data_dir


def test_golden_pipeline_build_and_warehouse(golden_dir: Path) -> None:
    at = open_page("health")
    shown = metrics(at)
    # The golden scenario: 36 events posted, one of them a client retry of an event id.
    assert shown["Runs committed"] == "1"
    assert shown["Events read"] == "36"
    assert shown["Duplicates dropped"] == "1"
    assert shown["Dead letters"] == "0"
    assert shown["Rejected events"] == "0"
    assert shown["Last commit"].endswith("ago")
    # The golden build is one `dbt build`: no refresh cycle, no checkpoint, every node passed.
    infos = " ".join(texts(at, "info"))
    assert "No refresh cycle recorded yet" in infos
    assert "No Great Expectations results yet" in infos
    outcomes = table(at, "Resource type")
    run_results = json.loads((golden_dir / "dbt" / "target" / "run_results.json").read_text())
    models = sum(1 for node in run_results["results"] if node["unique_id"].startswith("model."))
    assert models > 0
    assert set(outcomes["Status"]) == {"success", "pass"}
    assert int(outcomes.loc[outcomes["Resource type"] == "model", "Nodes"].sum()) == models
    assert "Every node of the last build succeeded or passed." in texts(at, "success")
    # Every source has its row, the quarantine among them (empty: no threshold).
    freshness = table(at, "Source").set_index("Source")
    assert freshness.loc["quarantine.rejections", "Rows"] == 0
    assert freshness.loc["quarantine.rejections", "State"] == "no threshold"
    # The golden build is shared by the session, so its loads may be minutes old by now:
    # the state must be the one its age calls for (amber after PIPELINE_STALE_AFTER_S).
    loaded = pd.Timestamp(freshness.loc["pipeline.minute_aggregates", "Newest load (UTC)"])
    age_s = (pd.Timestamp.now(tz="UTC") - loaded.tz_localize(loaded.tz or "UTC")).total_seconds()
    thresholds = (queries.PIPELINE_STALE_AFTER_S, queries.PIPELINE_VERY_STALE_AFTER_S)
    expected = ["fresh", "stale (amber)", "very stale (red)"][sum(age_s >= t for t in thresholds)]
    if all(abs(age_s - t) > 30 for t in thresholds):  # not read across a threshold
        assert freshness.loc["pipeline.minute_aggregates", "State"] == expected
    assert freshness.loc["pipeline.tip_minute_aggregates", "State"] == "no rows yet"
    successes = " ".join(texts(at, "success"))
    assert "No rejected events between" in successes
    assert "The pipeline set no record aside" in successes
    assert not texts(at, "error")


def test_replay_commands_are_the_documented_ones(golden_dir: Path) -> None:
    at = open_page("health")
    shown = [str(code.value) for code in at.code]
    assert shown == [queries.REPLAY_QUARANTINE_COMMAND, queries.REPLAY_SEGMENTS_COMMAND]
    documented = (REPO_ROOT / "docs" / "pipelines-streaming.md").read_text()
    for command in shown:
        assert f"\n{command} " in documented, command


def test_rejections_by_reason_app_and_hour_after_a_refresh(
    monkeypatch: pytest.MonkeyPatch, rejections_dir: Path
) -> None:
    for _ in use_data_dir(monkeypatch, rejections_dir):
        at = open_page("health")
        shown = metrics(at)
        assert shown["Rejected events"] == "6"
        assert shown["Reasons"] == "3"
        by_reason = table(at, "Reason").set_index("Reason")
        assert by_reason["Rejected events"].to_dict() == INVALID_EVENTS
        hourly = table(at, "Hour (UTC)")
        assert set(hourly["App"]) == {APP_ID}
        assert int(hourly["Rejected events"].sum()) == 6
        assert len(at.get("vega_lite_chart")) == 1
        freshness = table(at, "Source").set_index("Source")
        assert freshness.loc["quarantine.rejections", "Rows"] == 6
        # The refresh cycle wrote its status, dbt's two passes and the checkpoint's result.
        assert shown["Models built"] != "0" and shown["Models built"] != "n/a"
        assert shown["Data tests failed"] == "0"
        assert shown["Models failed or skipped"] == "0"
        assert shown["Expectations"] == "passed"
        assert "Every model built and every data test passed in that cycle." in texts(at, "caption")
        gx = table(at, "Suite").set_index("Suite")
        assert gx["Passed"].all(), gx
        assert int(gx.loc["content_daily_performance", "Expectations evaluated"]) > 0
        # The pipeline has not run since: its numbers are still the golden run's.
        assert shown["Events read"] == "36"


def test_date_range_applies_to_rejections(
    monkeypatch: pytest.MonkeyPatch, rejections_dir: Path
) -> None:
    for _ in use_data_dir(monkeypatch, rejections_dir):
        today = date.today()
        assert (
            int(
                queries.rejections_by_reason(today - timedelta(days=1), today + timedelta(days=1))[
                    "rejected_events"
                ].sum()
            )
            == 6
        )
        past = queries.rejections_by_reason(today - timedelta(days=30), today - timedelta(days=2))
        assert past.empty
        # Filters that rejections do not carry leave them as they are, without an error.
        at = open_page("health", {"platform": "ios", "type": "story"})
        assert metrics(at)["Rejected events"] == "6"


def test_no_warehouse_and_no_status_files(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for _ in use_data_dir(monkeypatch, tmp_path):
        at = open_page("health")
        assert [t.value for t in at.title] == ["Data health"]
        infos = " ".join(texts(at, "info"))
        assert "The pipeline has not committed a run yet" in infos
        assert "No refresh cycle recorded yet" in infos
        assert "No dbt results yet" in infos
        assert "No Great Expectations results yet" in infos
        assert "No data yet" in infos  # the warehouse's empty state, last
        assert metrics(at) == {}


def test_stale_pipeline_and_failed_cycle_turn_red(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    layout = DataLayout(tmp_path).ensure()
    two_hours_ago_ms = int((time.time() - 2 * 3600) * 1000)
    layout.pipeline_status.write_text(
        json.dumps(
            {"runs_committed": 7, "events_read": 1200, "duplicates": 3, "dead_letters": 2,
             "last_run_id": 7, "last_commit_at_ms": two_hours_ago_ms}
        )
    )  # fmt: skip
    layout.refresh_status.write_text(
        json.dumps(
            {"started_at_ms": two_hours_ago_ms, "finished_at_ms": two_hours_ago_ms,
             "models_built": 40, "model_errors": [
                 {"name": "playback_sessions", "status": "error", "failing_rows": None,
                  "message": "boom"}],
             "models_skipped": ["creator_daily_performance"], "tests_passed": 90,
             "test_failures": [{"name": "row_rules_playback_sessions", "status": "fail",
                                "failing_rows": 4, "message": "Got 4 results"}],
             "test_warnings": [], "tested_all_rows": True, "checks_ok": False,
             "published": True}
        )
    )  # fmt: skip
    for _ in use_data_dir(monkeypatch, tmp_path):
        at = open_page("health")
        shown = metrics(at)
        assert shown["Events read"] == "1,200"
        assert shown["Dead letters"] == "2"
        assert shown["Models failed or skipped"] == "2"
        assert shown["Data tests failed"] == "1"
        assert shown["Expectations"] == "FAILED"
        errors = " ".join(texts(at, "error"))
        assert "Last committed run 7" in errors
        assert "Last refresh cycle finished" in errors
        problems = table(at, "Kind").set_index("Node")
        assert problems.loc["row_rules_playback_sessions", "Failing rows"] == 4
        assert problems.loc["creator_daily_performance", "Status"] == "skipped"


def test_unreadable_status_files_read_as_missing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    layout = DataLayout(tmp_path).ensure()
    layout.pipeline_status.write_text('{"runs_committed": 3, "events_re')  # torn write
    layout.refresh_status.write_text("[1, 2]")
    for _ in use_data_dir(monkeypatch, tmp_path):
        at = open_page("health")
        infos = " ".join(texts(at, "info"))
        assert "The pipeline has not committed a run yet" in infos
        assert "No refresh cycle recorded yet" in infos


def test_freshness_thresholds_are_the_ones_declared_on_the_sources() -> None:
    import yaml  # type: ignore[import-untyped, unused-ignore]  # PyYAML ships no stubs

    sources_yml = REPO_ROOT / "dbt" / "models" / "staging" / "pipeline" / "_pipeline__sources.yml"
    (source,) = yaml.safe_load(sources_yml.read_text())["sources"]
    seconds = {"minute": 60, "hour": 3600}

    def after(rule: dict[str, Any] | None) -> float:
        return float("inf") if rule is None else rule["count"] * seconds[rule["period"]]

    default = source["config"]["freshness"]
    for table_spec in source["tables"]:
        freshness = (table_spec.get("config") or {}).get(
            "freshness", table_spec.get("freshness", default)
        )
        name = f"pipeline.{table_spec['name']}"
        thresholds = queries.source_thresholds(name)
        if freshness is None:
            continue
        assert thresholds == (after(freshness["warn_after"]), after(freshness["error_after"])), name

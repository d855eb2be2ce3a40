"""The checkpoint in the refresh loop, end to end on simulated data (real history generator,
pipeline, dbt, GX and the Data health page).

A day of simulated traffic for 20 creators goes through `python -m tools.history` (event log,
quarantine, pipeline) and one `python -m refresh --once`: every suite passes and the build
is published. Then the pipeline lands a run that breaks the lake (a content with more starts
than play requests, a negative stalled time) and the refresh runs again: dbt builds it, the
checkpoint fails critically, serving.duckdb stays the previous copy byte for byte, the
output and `state/refresh_status.json` say so, and the Data health page shows the banner.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass

import duckdb
import pytest

from marquee.lake_runs import read_pipeline_status
from marquee.layout import DataLayout
from tests.support import REPO_ROOT
from tests.support.dashboards import open_page, use_data_dir
from tests.support.gx_data import land_run, minute_row, now_minute

pytestmark = [pytest.mark.integration, pytest.mark.timeout(1200)]

CREATORS = 20
TIMEOUT_S = 900


@dataclass
class Cycle:
    returncode: int
    output: str
    serving_sha256: str | None


def run(layout: DataLayout, *command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *command],
        cwd=REPO_ROOT,
        env={**os.environ, "MARQUEE_DATA_DIR": str(layout.root)},
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )


def refresh_once(layout: DataLayout) -> Cycle:
    done = run(layout, "refresh", "--once")
    serving = layout.serving_db
    digest = hashlib.sha256(serving.read_bytes()).hexdigest() if serving.exists() else None
    return Cycle(done.returncode, done.stdout + done.stderr, digest)


@pytest.fixture(scope="module")
def cycles(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[DataLayout, Cycle, Cycle, dict]]:
    layout = DataLayout(tmp_path_factory.mktemp("simulated") / "data")
    history = run(
        layout, "tools.history", "--days", "1", "--creators", str(CREATORS), "--workers", "1"
    )
    assert history.returncode == 0, history.stdout + history.stderr
    clean = refresh_once(layout)
    clean_report = json.loads((layout.gx_dir / "latest.json").read_text())

    last_run = read_pipeline_status(layout).last_run_id
    assert last_run is not None
    minute = now_minute() - 30
    land_run(
        layout,
        last_run + 1,
        [
            minute_row(minute, "broken_content", attempts=1, starts=5, startup_bucket_500_1000=5),
            minute_row(minute, "broken_content", platform="ios", stalled_ms=-1_000),
        ],
    )
    broken = refresh_once(layout)
    yield layout, clean, broken, clean_report


def test_clean_simulated_data_passes_every_suite_and_is_published(
    cycles: tuple[DataLayout, Cycle, Cycle, dict],
) -> None:
    _, clean, _, report = cycles
    assert clean.returncode == 0, clean.output
    assert "expectations checkpoint ok in" in clean.output
    assert report["verdict"] == "passed", [s["failures"] for s in report["suites"] if s["failures"]]
    suites = {suite["name"]: suite for suite in report["suites"]}
    assert all(suite["success"] for suite in suites.values())
    for name in (
        "raw_events",
        "quarantine",
        "lake_minutes",
        "lake_content_totals",
        "content_daily_performance",
        "playback_sessions",
        "stories",
    ):
        assert suites[name]["rows"], (name, suites[name])
    assert clean.serving_sha256 is not None


def test_a_critical_failure_keeps_the_previous_published_copy(
    cycles: tuple[DataLayout, Cycle, Cycle, dict],
) -> None:
    layout, clean, broken, _ = cycles
    assert broken.returncode == 2, broken.output
    assert "serving.duckdb NOT published" in broken.output
    assert "[critical] lake_content_totals: starts_beyond_attempts <= 0" in broken.output
    assert "broken_content: 6 starts, 2 attempts" in broken.output
    assert "[critical] lake_minutes: stalled_ms >= 0" in broken.output
    # dbt built the broken run; the dashboards' copy is still the clean one.
    with duckdb.connect(str(layout.dbt_db), read_only=True) as connection:
        built = connection.execute(
            "select count(*) from main.content_daily_performance "
            "where content_id = 'broken_content'"
        ).fetchall()
    assert built == [(1,)]
    assert broken.serving_sha256 == clean.serving_sha256
    status = json.loads(layout.refresh_status.read_text())
    assert status["published"] is False and status["kept_previous_copy"] is True
    assert status["checks_verdict"] == "critical"
    assert {f["suite"] for f in status["check_failures"] if f["severity"] == "critical"} >= {
        "lake_content_totals",
        "lake_minutes",
    }


def test_the_data_health_page_says_the_previous_copy_is_kept(
    cycles: tuple[DataLayout, Cycle, Cycle, dict], monkeypatch: pytest.MonkeyPatch
) -> None:
    layout, _, _, _ = cycles
    for _ in use_data_dir(monkeypatch, layout.root):
        at = open_page("health")
        errors = [str(element.value) for element in at.error]
        assert any(
            "serving.duckdb was NOT replaced, and the dashboards show the previous published copy"
            in error
            and "lake_content_totals" in error
            for error in errors
        ), errors
        suites = next(
            frame.value for frame in at.dataframe if "Critical failures" in frame.value.columns
        ).set_index("Suite")
        assert suites.loc["lake_content_totals", "Critical failures"] == 1
        assert not suites.loc["lake_content_totals", "Passed"]
        assert suites.loc["stories", "Passed"]
        docs = str(layout.gx_dir / "docs" / "index.html")
        assert any(docs in str(element.value) for element in at.markdown)
        replay = [str(element.value) for element in at.code]
        assert "uv run python -m pipelines replay --quarantine" in replay

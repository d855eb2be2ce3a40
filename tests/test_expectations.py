"""The expectation suites on deliberately broken data: each break fails the right expectation
with a readable message, at its severity; the checkpoint's report, history and Data Docs.

Small data directories (event log segments, committed lake runs, mart tables) built in
tests/support/gx_data.py, run through the real checkpoint (GX 1.x). That clean simulated data
passes every suite, and that a critical failure keeps the previous published copy, is shown
end to end in test_expectations_refresh.py.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from expectations import run_checkpoint
from expectations.__main__ import main as expectations_main
from expectations.checkpoint import CheckpointReport
from expectations.dataset import Dataset
from expectations.suites import (
    all_datasets,
    lake_content_totals,
    lake_minutes,
    lake_platform_volume,
    quarantine,
    raw_events,
)
from expectations.suites import content_daily_performance as content_daily
from marquee.layout import DataLayout
from tests.support.gx_data import (
    land_runs,
    log_event,
    minute_row,
    now_minute,
    write_segment,
    write_table,
)

pytestmark = pytest.mark.unit

NOW_MS = int(dt.datetime.now(dt.UTC).timestamp() * 1000)
TODAY = dt.datetime.fromtimestamp(NOW_MS / 1000, dt.UTC).date()
"""The day the daily rows are dated from; the volume checks judge days as of `NOW_MS` (the
module is imported at collection, and a run that crosses midnight must not move "today")."""


@pytest.fixture
def layout(tmp_path: Path) -> DataLayout:
    return DataLayout(tmp_path / "data").ensure()


def check(
    layout: DataLayout, *datasets: Dataset | tuple[Dataset, ...], now_ms: int | None = None
) -> CheckpointReport:
    """The checkpoint over `datasets`, as of `now_ms` (default: the clock)."""
    chosen: list[Dataset] = []
    for item in datasets:
        chosen.extend(item if isinstance(item, tuple) else (item,))
    return run_checkpoint(layout, layout.dbt_db, datasets=chosen, now_ms=now_ms, build_docs=False)


def messages(report: CheckpointReport, severity: str = "critical") -> list[str]:
    return [failure.message for failure in report.failures if failure.severity == severity]


def one_failure(report: CheckpointReport, suite: str, expectation: str) -> str:
    """The message of the one failure of `expectation` in `suite`; nothing else failed."""
    assert [(f.suite, f.expectation) for f in report.failures] == [(suite, expectation)], (
        report.failures
    )
    return report.failures[0].message


def daily_minutes(days_back: int, platform: str, attempts: int) -> dict[str, Any]:
    """One minute at noon UTC `days_back` days ago with `attempts` requests and starts."""
    noon = dt.datetime.combine(TODAY - dt.timedelta(days=days_back), dt.time(12), dt.UTC)
    row = minute_row(
        int(noon.timestamp()) // 60, f"c-{platform}", platform=platform, attempts=attempts
    )
    row.update(starts=attempts, startup_bucket_500_1000=attempts)
    return row


def content_daily_row(day: dt.date, content_id: str, **values: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "day": day,
        "content_id": content_id,
        "creator_id": "u1",
        "content_type": "vod",
        "play_requests": 3,
        "starts": 2,
        "fatal_errors": 0,
        "played_ms": 50_000,
        "stalled_ms": 500,
        "stall_count": 1,
        "seek_ms": 200,
        "startup_ms_sum": 1_500,
        "watched_ms": 52_200,
        "peak_concurrent_viewers": 0.9,
        "last_minute_start_at": dt.datetime.combine(day, dt.time(23, 59)),
        "built_at_ms": 1,
    }
    row.update(values)
    return row


def test_clean_small_data_passes_the_raw_and_lake_suites(layout: DataLayout) -> None:
    write_segment(layout.log_dir, "0001", [log_event(), log_event(type="play_requested")])
    minute = now_minute() - 10
    land_runs(layout, [[minute_row(minute), minute_row(minute, "c2")], [minute_row(minute)]])

    report = check(layout, raw_events.DATASET, lake_minutes.DATASET, lake_content_totals.DATASET)

    assert report.verdict == "passed", report.failures
    assert [suite.rows for suite in report.suites] == [2, 3, 2]
    assert all(suite.evaluated > 1 for suite in report.suites)


def test_a_platform_whose_traffic_vanishes_fails_the_platform_volume(
    layout: DataLayout,
) -> None:
    """Eight days of web and iOS traffic; on the newest complete day (yesterday) iOS sends
    nothing. Today is still filling and is not judged."""
    days = [
        [daily_minutes(back, "web", 300), daily_minutes(back, "ios", 200)] for back in range(2, 9)
    ]
    days.append([daily_minutes(1, "web", 310)])
    days.append([daily_minutes(0, "web", 5)])
    land_runs(layout, days)

    report = check(layout, lake_platform_volume.DATASET, now_ms=NOW_MS)

    message = one_failure(report, "lake_platform_volume", report.failures[0].expectation)
    assert report.verdict == "critical"
    assert "ratio_to_baseline >= 0.5" in message
    yesterday = TODAY - dt.timedelta(days=1)
    assert f"platform ios on {yesterday}: 0" in message, message
    assert "platform web" not in message


def test_a_mart_whose_rows_halve_fails_its_volume(layout: DataLayout) -> None:
    rows = [
        content_daily_row(TODAY - dt.timedelta(days=back), f"c{index}")
        for back in range(2, 9)
        for index in range(100)
    ]
    rows += [content_daily_row(TODAY - dt.timedelta(days=1), f"c{index}") for index in range(40)]
    write_table(layout.dbt_db, "main.content_daily_performance", rows)

    report = check(layout, content_daily.DATASETS, now_ms=NOW_MS)

    message = one_failure(
        report, "content_daily_performance_volume", report.failures[0].expectation
    )
    assert (
        "content_daily_performance rows on" in message
        and ": 40 against a median of 100 the days before" in message
    )


def test_negative_deltas_fail_the_raw_events_and_lake_ranges(layout: DataLayout) -> None:
    bad = log_event(played_ms=-5_000)
    write_segment(layout.log_dir, "0001", [log_event(), bad])
    minute = now_minute() - 10
    land_runs(layout, [[minute_row(minute), minute_row(minute, "c2", stalled_ms=-1)]])

    report = check(layout, raw_events.DATASET, lake_minutes.DATASET)

    assert sorted(messages(report)) == [
        f"lake_minutes: stalled_ms >= 0 failed: 1 of 2 rows, e.g. run 1 minute {minute} c2 "
        "web DE (stalled_ms=-1)",
        "raw_events: played_ms within [0, 3600000] (a delta since the previous event) failed: "
        f"1 of 2 rows, e.g. 0001.seg heartbeat {bad['event_id']} (played_ms=-5000)",
    ]


def test_starts_beyond_attempts_fail_the_content_totals(layout: DataLayout) -> None:
    """c2 has four starts for one request (a lost request or two is tolerated: c3)."""
    minute = now_minute() - 10
    land_runs(
        layout,
        [
            [minute_row(minute, "c1"), minute_row(minute, "c2", attempts=1, starts=4)],
            [minute_row(minute + 1, "c2", attempts=0, starts=0)],
            [minute_row(minute + 1, "c3", attempts=0, starts=2)],
        ],
    )

    report = check(layout, lake_content_totals.DATASET)

    rule = (
        "starts_beyond_attempts <= 0 "
        "(starts <= attempts per content, give or take 2 or 5% lost requests)"
    )
    message = one_failure(report, "lake_content_totals", rule)
    assert (
        message == f"lake_content_totals: {rule} failed: 1 of 3 rows, e.g. c2: 4 starts, 1 attempts"
    )


def test_a_renamed_field_fails_the_event_contract(layout: DataLayout) -> None:
    """A client release sends `plattform`: the field is unknown and `platform` is missing."""
    renamed = log_event()
    renamed["plattform"] = renamed.pop("platform")
    write_segment(layout.log_dir, "0001", [log_event(), renamed])

    report = check(layout, raw_events.DATASET)

    assert sorted(messages(report)) == [
        "raw_events: every field is one of the event contract's (a renamed field is not) "
        f"failed: 1 of 2 rows, e.g. 0001.seg heartbeat {renamed['event_id']} "
        "(unknown_fields=plattform)",
        "raw_events: platform is never null failed: 1 of 2 rows, e.g. 0001.seg heartbeat "
        f"{renamed['event_id']} (platform=null)",
    ]


def test_a_renamed_mart_column_fails_the_column_set(layout: DataLayout) -> None:
    """content_daily_performance counts play requests; a build that still says `views`."""
    row = content_daily_row(TODAY, "c1")
    row["views"] = row.pop("play_requests")
    write_table(layout.dbt_db, "main.content_daily_performance", [row])

    report = check(layout, content_daily.DATASETS[0], now_ms=NOW_MS)

    critical = messages(report)
    assert any(
        message.startswith("content_daily_performance: exactly the mart's columns")
        and "missing play_requests" in message
        and "unexpected views" in message
        for message in critical
    ), critical


def test_a_missing_mart_is_critical(layout: DataLayout) -> None:
    missing = check(layout, all_datasets()[-1])  # source_freshness was never built
    assert missing.verdict == "critical"
    assert messages(missing) == ["source_freshness is missing (not built)"]


def test_quarantine_reasons_are_checked(layout: DataLayout) -> None:
    record = {"quarantined_at_ms": 1, "app_id": "app", "detail": "d", "payload": "{}"}
    write_segment(
        layout.quarantine_dir,
        "0001",
        [dict(record, reason="missing_field", index=0), dict(record, reason="exploded", index=1)],
    )

    report = check(layout, quarantine.DATASET)

    assert report.verdict == "warning"  # held aside either way: no reason to stop a publish
    message = one_failure(report, "quarantine", report.failures[0].expectation)
    assert message.startswith("quarantine: event_reason is one of malformed_event")
    assert "1 of 2 rows, e.g. 0001.seg exploded" in message


def test_the_command_writes_the_report_its_history_and_data_docs(
    layout: DataLayout, capsys: pytest.CaptureFixture[str]
) -> None:
    """`python -m expectations` over every dataset of a directory whose marts were never
    built: critical (each mart missing), exit code 2, one line per failure, the report in
    gx/latest.json and gx/history, Data Docs rendered under gx/docs."""
    write_segment(layout.log_dir, "0001", [log_event()])

    code = expectations_main(["--data-dir", str(layout.root)])

    assert code == 2
    printed = capsys.readouterr().out
    assert printed.startswith("expectations: CRITICAL:")
    assert "  [critical] stories is missing (not built)" in printed
    latest = json.loads((layout.gx_dir / "latest.json").read_text())
    assert latest["verdict"] == "critical"
    by_name = {suite["name"]: suite for suite in latest["suites"]}
    assert by_name["raw_events"]["success"] is True and by_name["raw_events"]["rows"] == 1
    assert len(list((layout.gx_dir / "history").glob("*.json"))) == 1
    index = layout.gx_dir / "docs" / "index.html"
    assert latest["docs_index"] == str(index)
    assert "raw_events" in index.read_text()


def test_a_retry_counts_once_but_two_events_under_one_id_warn(layout: DataLayout) -> None:
    """A client retry writes the same event twice into a segment (the pipeline drops the
    repeat): no failure. Two different events under one event_id: a warning."""
    event = log_event()
    write_segment(layout.log_dir, "0001", [event, dict(event), log_event()])
    assert check(layout, raw_events.DATASET).verdict == "passed"

    other = log_event(event_id=event["event_id"], type="playback_ended", reason="completed")
    write_segment(layout.log_dir, "0002", [event, other])
    report = check(layout, raw_events.DATASET)

    assert report.verdict == "warning"
    message = one_failure(report, "raw_events", report.failures[0].expectation)
    assert message.startswith(
        "raw_events: event_id names one event within its segment (a retry repeats it whole) "
        "failed: 2 of 4 rows, e.g. 0002.seg heartbeat"
    ), message


def test_a_mart_is_held_to_the_columns_its_yml_documents(layout: DataLayout) -> None:
    """creator_daily_tips.yml documents its columns: one missing is critical, one the yml
    does not know yet is a warning."""
    from expectations.suites import creator_daily_tips

    row = {
        "creator_id": "u1",
        "day": TODAY,
        "currency": "EUR",
        "tips": 2,
        "tips_amount_minor": 500,
        "built_at_ms": 1,
        "tip_mood": "happy",
    }
    write_table(layout.dbt_db, "main.creator_daily_tips", [row])
    report = check(layout, creator_daily_tips.DATASETS, now_ms=NOW_MS)
    assert report.verdict == "warning", report.failures
    assert messages(report, "warning") == [
        "creator_daily_tips: no column beyond those creator_daily_tips.yml documents failed: "
        "columns unexpected tip_mood"
    ]

    del row["tips_amount_minor"]
    write_table(layout.dbt_db, "main.creator_daily_tips", [row])
    report = check(layout, creator_daily_tips.DATASETS, now_ms=NOW_MS)
    critical = messages(report)
    assert any(
        message.startswith("creator_daily_tips: columns present: creator_id, day")
        and "missing tips_amount_minor" in message
        for message in critical
    ), critical
    assert (
        "creator_daily_tips: tips_amount_minor >= 0 failed: Error: The column "
        '"tips_amount_minor" in BatchData does not exist.' in critical
    ), critical

"""Queries of the Data health page: the status files the pipeline and the refresh loop write,
dbt's and Great Expectations' results of the last build, and the data-quality marts.

Files, read defensively (a missing or half-written file reads as None, never an error, because
this is the page to open when nothing else shows):

- `state/pipeline_status.json`, rewritten by the pipeline after each committed run;
- `state/refresh_status.json`, the refresh loop's last cycle (`refresh.build_report`);
- dbt's `run_results.models.json` (the loop's model pass) and `run_results.json` (its test
  pass, or a whole `dbt build`) under `<data dir>/dbt/target/`;
- the expectations checkpoint's `<data dir>/gx/latest.json` and its Data Docs under
  `<data dir>/gx/docs/` (`expectations.checkpoint`).

Marts, from the serving warehouse: `main.source_freshness`, `main.rejected_events_hourly`
and `main.pipeline_dead_letters`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from dashboards import data
from marquee.layout import DataLayout

PIPELINE_STALE_AFTER_S = 10 * 60
PIPELINE_VERY_STALE_AFTER_S = 60 * 60
"""The pipeline sources' freshness thresholds (warn after 10 min, error after 60 min), as
declared in dbt/models/staging/pipeline/_pipeline__sources.yml."""

SPARSE_SOURCES_STALE_AFTER_S = 24 * 60 * 60
SPARSE_SOURCES: frozenset[str] = frozenset(
    {
        "pipeline.creator_minute_aggregates",
        "pipeline.tip_minute_aggregates",
        "pipeline.reaction_minute_aggregates",
        "pipeline.impression_minute_aggregates",
        "pipeline.live_latency_minute_values",
        "pipeline.ad_plays",
    }
)
"""Sources that can be quiet for hours (follows, tips, reactions, ads, live latency while no
live is watched): the yml warns after 24 h and never errors."""

UNCHECKED_SOURCES: frozenset[str] = frozenset({"quarantine.rejections"})
"""No rejection for a long time is good news: the quarantine has no freshness threshold."""

BUILD_STALE_AFTER_S = 5 * 60
BUILD_VERY_STALE_AFTER_S = 30 * 60
"""The refresh loop builds about once a minute: a last build older than 5 min is amber, older
than 30 min red."""

REPLAY_QUARANTINE_COMMAND = "uv run python -m pipelines replay --quarantine"
REPLAY_SEGMENTS_COMMAND = "uv run python -m pipelines replay --segments .."
"""The replay commands as docs/pipelines-streaming.md ("Replay and backfill") gives them."""


def read_json(path: Path) -> dict[str, Any] | None:
    """A JSON object from `path`; None when the file is missing, unreadable or not an object
    (a writer replaces these files by rename, but a reader must never fail on them)."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return document if isinstance(document, dict) else None


def ms_to_utc(value: object) -> datetime | None:
    """Epoch milliseconds as an aware UTC datetime; None for anything else."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return datetime.fromtimestamp(value / 1000, tz=UTC)


def _iso_to_utc(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def pipeline_status(layout: DataLayout) -> dict[str, Any] | None:
    """The pipeline's summary after its last commit: runs_committed, events_read, duplicates,
    dead_letters (totals since the state was created), last_run_id, last_commit_at_ms."""
    return read_json(layout.pipeline_status)


def refresh_status(layout: DataLayout) -> dict[str, Any] | None:
    """The refresh loop's last cycle (`refresh.build_report.RefreshStatus` as JSON)."""
    return read_json(layout.refresh_status)


ALERT_LINES_READ = 5_000
"""The newest lines of the alert history read (each is one notification)."""
ALERT_COLUMNS = ("at", "status", "rule", "scope", "scope_value", "value", "unit", "views", "text")


@dataclass(frozen=True)
class Alerts:
    """The alert notifications of `alerts/history.jsonl` (appended by `python -m alerts`),
    newest first, and the alerts firing now: those whose newest notification is `firing`."""

    history: pd.DataFrame
    firing: pd.DataFrame


def alerts(layout: DataLayout) -> Alerts | None:
    """The alert history, or None when no alert has been notified yet (no file). A line
    that is not a notification (a write cut short) is skipped."""
    try:
        lines = layout.alert_history.read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    rows: list[dict[str, Any]] = []
    for line in lines[-ALERT_LINES_READ:]:
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and entry.get("status") in ("firing", "resolved"):
            at = ms_to_utc(entry.get("at_ms"))
            rows.append({**entry, "at": None if at is None else at.replace(tzinfo=None)})
    frame = pd.DataFrame(rows, columns=[*ALERT_COLUMNS, "alert_id"])
    frame = frame.iloc[::-1].reset_index(drop=True)
    newest = frame.drop_duplicates("alert_id", keep="first")
    firing = newest[newest["status"] == "firing"]
    return Alerts(frame[list(ALERT_COLUMNS)], firing[list(ALERT_COLUMNS)].reset_index(drop=True))


def dbt_results_files(layout: DataLayout) -> list[Path]:
    """dbt's results of the last build: the model pass's copy, then dbt's own file (the test
    pass in the refresh loop; a whole `dbt build` elsewhere)."""
    target = layout.dbt_artifacts / "target"
    return [target / "run_results.models.json", target / "run_results.json"]


@dataclass(frozen=True)
class DbtResults:
    """The nodes of the last build, one row each, and when dbt finished writing them."""

    nodes: pd.DataFrame
    generated_at: datetime | None


DBT_NODE_COLUMNS = ("resource_type", "name", "status", "failures", "message", "seconds")


def dbt_results(layout: DataLayout) -> DbtResults:
    """Every node of the last build's results files; a node in both files counts once, with
    the result of the newer file."""
    nodes: dict[str, dict[str, Any]] = {}
    newest: datetime | None = None
    documents = [read_json(path) for path in dbt_results_files(layout)]
    dated = [
        (_iso_to_utc((doc.get("metadata") or {}).get("generated_at")), doc)
        for doc in documents
        if doc is not None
    ]
    dated.sort(key=lambda pair: pair[0] or datetime.min.replace(tzinfo=UTC))
    for generated_at, document in dated:
        if generated_at is not None:
            newest = generated_at
        for node in document.get("results") or []:
            if not isinstance(node, dict):
                continue
            unique_id = str(node.get("unique_id", ""))
            # `model.<project>.<name>`, `test.<project>.<name>.<hash>`
            parts = unique_id.split(".")
            failures = node.get("failures")
            seconds = node.get("execution_time")
            nodes[unique_id] = {
                "resource_type": parts[0],
                "name": parts[2] if len(parts) > 2 else unique_id,
                "status": str(node.get("status")),
                "failures": failures if isinstance(failures, int) else None,
                "message": " ".join(str(node.get("message") or "").split())[:300],
                "seconds": seconds if isinstance(seconds, int | float) else None,
            }
    frame = pd.DataFrame(list(nodes.values()), columns=list(DBT_NODE_COLUMNS))
    return DbtResults(frame, newest)


def dbt_outcomes(nodes: pd.DataFrame) -> pd.DataFrame:
    """Node counts per resource type (model, test, unit_test, ...) and status."""
    if nodes.empty:
        return pd.DataFrame(columns=["resource_type", "status", "nodes"])
    return (
        nodes.groupby(["resource_type", "status"], as_index=False)
        .size()
        .rename(columns={"size": "nodes"})
        .sort_values(["resource_type", "status"], ignore_index=True)
    )


GX_COLUMNS = (
    "suite",
    "layer",
    "success",
    "rows",
    "evaluated",
    "critical_failures",
    "warning_failures",
    "description",
)
GX_FAILURE_COLUMNS = ("severity", "suite", "expectation", "message")


def checkpoint_report(layout: DataLayout) -> dict[str, Any] | None:
    """The expectations checkpoint's last report (`gx/latest.json`, written by
    `expectations.checkpoint` after each build or `python -m expectations`)."""
    return read_json(layout.gx_dir / "latest.json")


def expectation_results(layout: DataLayout) -> pd.DataFrame:
    """One row per suite of the last checkpoint: its layer (raw, lake, mart), whether it
    passed, rows validated (null when the dataset was absent), expectations evaluated and
    failures by severity."""
    report = checkpoint_report(layout)
    suites = report.get("suites") if report else None
    rows = []
    for suite in suites if isinstance(suites, list) else []:
        if not isinstance(suite, dict):
            continue
        failures = suite.get("failures") if isinstance(suite.get("failures"), list) else []
        severities = [str(failure.get("severity")) for failure in failures or []]
        rows.append(
            {
                "suite": suite.get("name"),
                "layer": suite.get("layer"),
                "success": bool(suite.get("success")),
                "rows": suite.get("rows"),
                "evaluated": suite.get("evaluated"),
                "critical_failures": severities.count("critical"),
                "warning_failures": len(severities) - severities.count("critical"),
                "description": suite.get("description"),
            }
        )
    return pd.DataFrame(rows, columns=list(GX_COLUMNS))


def expectation_failures(layout: DataLayout) -> pd.DataFrame:
    """Every failed expectation of the last checkpoint, critical first, with its message."""
    report = checkpoint_report(layout)
    suites = report.get("suites") if report else None
    rows = [
        {column: failure.get(column) for column in GX_FAILURE_COLUMNS}
        for suite in (suites if isinstance(suites, list) else [])
        if isinstance(suite, dict)
        for failure in (suite.get("failures") or [])
        if isinstance(failure, dict)
    ]
    frame = pd.DataFrame(rows, columns=list(GX_FAILURE_COLUMNS))
    return frame.sort_values("severity", key=lambda column: column != "critical", kind="stable")


def data_docs_index(layout: DataLayout) -> Path | None:
    """The Data Docs the last checkpoint rendered (`gx/docs/index.html`), if any."""
    index = layout.gx_dir / "docs" / "index.html"
    return index if index.exists() else None


SOURCE_FRESHNESS_SQL = """
select
    source_name,
    row_count,
    newest_loaded_at,
    freshness_lag_secs,
    checked_at
from main.source_freshness
order by source_name
"""

SOURCE_FRESHNESS_COLUMNS = (
    "source_name",
    "row_count",
    "newest_loaded_at",
    "freshness_lag_secs",
    "checked_at",
)


def source_freshness() -> pd.DataFrame:
    """One row per source: rows, newest load (UTC), its lag at the build, the build's now."""
    return data.query(SOURCE_FRESHNESS_SQL, columns=SOURCE_FRESHNESS_COLUMNS)


def source_thresholds(source_name: str) -> tuple[float, float] | None:
    """(amber, red) age thresholds in seconds of a source; None when it has none."""
    if source_name in UNCHECKED_SOURCES:
        return None
    if source_name in SPARSE_SOURCES:
        return SPARSE_SOURCES_STALE_AFTER_S, float("inf")
    return PIPELINE_STALE_AFTER_S, PIPELINE_VERY_STALE_AFTER_S


REJECTIONS_BY_HOUR_SQL = """
select
    hour_start_at,
    app_id,
    reason,
    rejected_events::bigint as rejected_events,
    rejected_bodies::bigint as rejected_bodies,
    last_rejected_at
from main.rejected_events_hourly
where cast(hour_start_at as date) between ? and ?
order by hour_start_at desc, rejected_events desc, app_id, reason
limit 2000
"""

REJECTIONS_BY_HOUR_COLUMNS = (
    "hour_start_at",
    "app_id",
    "reason",
    "rejected_events",
    "rejected_bodies",
    "last_rejected_at",
)


def rejections_by_hour(start: date, end: date) -> pd.DataFrame:
    """Rejected events per UTC hour, app and reason, on the UTC days [start, end], newest
    hour first (at most 2,000 rows: 24 h x apps x reasons stays far below)."""
    return data.query(REJECTIONS_BY_HOUR_SQL, [start, end], columns=REJECTIONS_BY_HOUR_COLUMNS)


REJECTIONS_BY_REASON_SQL = """
select
    reason,
    sum(rejected_events)::bigint as rejected_events,
    sum(rejected_bodies)::bigint as rejected_bodies,
    count(distinct app_id)::bigint as apps,
    max(last_rejected_at) as last_rejected_at
from main.rejected_events_hourly
where cast(hour_start_at as date) between ? and ?
group by reason
order by rejected_events desc, reason
"""

REJECTIONS_BY_REASON_COLUMNS = (
    "reason",
    "rejected_events",
    "rejected_bodies",
    "apps",
    "last_rejected_at",
)


def rejections_by_reason(start: date, end: date) -> pd.DataFrame:
    """Rejected events per reason on the UTC days [start, end], most first."""
    return data.query(REJECTIONS_BY_REASON_SQL, [start, end], columns=REJECTIONS_BY_REASON_COLUMNS)


DEAD_LETTERS_SQL = """
select reason, dead_letters::bigint as dead_letters, runs::bigint as runs, last_run_id
from main.pipeline_dead_letters
order by dead_letters desc, reason
"""

DEAD_LETTERS_COLUMNS = ("reason", "dead_letters", "runs", "last_run_id")


def dead_letters() -> pd.DataFrame:
    """Records the pipeline set aside, per reason, since the lake began."""
    return data.query(DEAD_LETTERS_SQL, columns=DEAD_LETTERS_COLUMNS)

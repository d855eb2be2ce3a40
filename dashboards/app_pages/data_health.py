"""Data health page: is the data fresh and can it be trusted, and what is kept out of it.

The page to open when nothing else shows, so its first half reads no warehouse:

- the pipeline: its last commit and how long ago, runs, events read, duplicates dropped and
  dead letters (`state/pipeline_status.json`);
- the last build: the refresh loop's last cycle (`state/refresh_status.json`), dbt's results
  of the models and data tests (`dbt/target/run_results*.json`) and the Great Expectations
  checkpoint (`gx/latest.json`, one suite per dataset by severity, and its Data Docs);
- the alerts: those firing now and the notifications, newest first (`alerts/history.jsonl`,
  written by `python -m alerts`).

Then, from the serving warehouse: the freshness of every source (`main.source_freshness`),
rejected events by reason, app and UTC hour (`main.rejected_events_hourly`, the shared date
range applies), the pipeline's dead letters by reason (`main.pipeline_dead_letters`), and the
documented command that replays quarantined events once the cause is fixed.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import altair as alt
import pandas as pd
import streamlit as st

from dashboards import components, data, definitions, filters
from dashboards.queries import data_health as queries
from marquee.settings import get_settings

CHART_HEIGHT_PX = 260

PROBLEM_LABELS = {
    "kind": "Kind",
    "name": "Node",
    "status": "Status",
    "failures": "Failing rows",
    "message": "Message",
}
DBT_OUTCOME_LABELS = {"resource_type": "Resource type", "status": "Status", "nodes": "Nodes"}
GX_LABELS = {
    "suite": "Suite",
    "layer": "Layer",
    "success": "Passed",
    "rows": "Rows checked",
    "evaluated": "Expectations evaluated",
    "critical_failures": "Critical failures",
    "warning_failures": "Warning failures",
    "description": "Dataset",
}
GX_FAILURE_LABELS = {
    "severity": "Severity",
    "suite": "Suite",
    "expectation": "Expectation",
    "message": "What failed",
}
PREVIOUS_COPY_KEPT = (
    "A critical expectation failed in the last refresh cycle: serving.duckdb was NOT "
    "replaced, and the dashboards show the previous published copy."
)
FRESHNESS_LABELS = {
    "source_name": "Source",
    "row_count": "Rows",
    "newest_loaded_at": "Newest load (UTC)",
    "age": "Age now",
    "freshness_lag_secs": "Lag at build (s)",
    "state": "State",
}
REASON_LABELS = {
    "reason": "Reason",
    "rejected_events": "Rejected events",
    "rejected_bodies": "Of which whole bodies",
    "apps": "Apps",
    "last_rejected_at": "Last rejected (UTC)",
}
HOURLY_LABELS = {
    "hour_start_at": "Hour (UTC)",
    "app_id": "App",
    "reason": "Reason",
    "rejected_events": "Rejected events",
    "rejected_bodies": "Of which whole bodies",
    "last_rejected_at": "Last rejected (UTC)",
}
DEAD_LETTER_LABELS = {
    "reason": "Reason",
    "dead_letters": "Dead letters",
    "runs": "Runs",
    "last_run_id": "Last run",
}
ALERT_LABELS = {
    "at": "At (UTC)",
    "status": "Status",
    "rule": "Rule",
    "scope": "Scope",
    "scope_value": "Of",
    "value": "Value",
    "unit": "Unit",
    "views": "Views",
    "text": "Notification",
}
STATE_TEXT = {
    "fresh": "fresh",
    "stale": "stale (amber)",
    "very_stale": "very stale (red)",
    "unknown": "no rows yet",
}


def _count(value: object) -> str:
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else "n/a"


def _metric_row(*items: tuple[str, str, str]) -> None:
    """One row of headline numbers: (label, value, docs block of its definition) each."""
    for column, (label, value, definition_name) in zip(st.columns(len(items)), items, strict=True):
        column.metric(label, value, help=definitions.definition(definition_name))


def _when(moment: datetime | None, now: datetime) -> str:
    if moment is None:
        return "at an unknown time"
    age = components.format_age((now - moment).total_seconds())
    return f"at {moment:%Y-%m-%d %H:%M:%S} UTC ({age} ago)"


def _show_pipeline(status: dict[str, Any] | None, now: datetime) -> None:
    st.subheader("Pipeline")
    layout = get_settings().layout
    if status is None:
        st.info(
            f"The pipeline has not committed a run yet: {layout.pipeline_status} appears after "
            "its first run over sealed segments of the event log (`python -m pipelines local`; "
            "`make demo` starts it). Events the API accepted wait in the log until then."
        )
        return
    committed_at = queries.ms_to_utc(status.get("last_commit_at_ms"))
    age = None if committed_at is None else (now - committed_at).total_seconds()
    components.show_freshness(
        f"Last committed run {status.get('last_run_id', 'n/a')} {_when(committed_at, now)}. "
        "Local mode commits every few seconds while events arrive; amber after "
        f"{queries.PIPELINE_STALE_AFTER_S // 60} min without a commit, red after "
        f"{queries.PIPELINE_VERY_STALE_AFTER_S // 60} min.",
        components.freshness_level(
            age, queries.PIPELINE_STALE_AFTER_S, queries.PIPELINE_VERY_STALE_AFTER_S
        ),
    )
    _metric_row(
        (
            "Last commit",
            "n/a" if age is None else f"{components.format_age(age)} ago",
            "pipeline_last_commit",
        ),
        ("Runs committed", _count(status.get("runs_committed")), "pipeline_runs_committed"),
        ("Events read", _count(status.get("events_read")), "pipeline_events_read"),
        ("Duplicates dropped", _count(status.get("duplicates")), "pipeline_duplicates"),
        ("Dead letters", _count(status.get("dead_letters")), "pipeline_dead_letter_total"),
    )


def _problem_rows(status: dict[str, Any]) -> pd.DataFrame:
    """The refresh cycle's failing models, skipped models, failing and warning tests."""
    rows: list[dict[str, Any]] = []
    for key, kind in (
        ("model_errors", "model"),
        ("test_failures", "data test"),
        ("test_warnings", "data test"),
    ):
        for problem in status.get(key) or []:
            if isinstance(problem, dict):
                rows.append(
                    {
                        "kind": kind,
                        "name": str(problem.get("name", "")),
                        "status": str(problem.get("status", "")),
                        "failures": problem.get("failing_rows"),
                        "message": str(problem.get("message", "")),
                    }
                )
    for name in status.get("models_skipped") or []:
        rows.append(
            {
                "kind": "model",
                "name": str(name),
                "status": "skipped",
                "failures": None,
                "message": "not built: a model it reads failed",
            }
        )
    return pd.DataFrame(rows, columns=list(PROBLEM_LABELS))


def _show_refresh_cycle(status: dict[str, Any] | None, now: datetime) -> None:
    layout = get_settings().layout
    if status is None:
        st.info(
            f"No refresh cycle recorded yet: {layout.refresh_status} appears when the refresh "
            "loop (`python -m refresh`, started by `make demo`) finishes its first "
            "cycle, about a minute after the pipeline's first run."
        )
        return
    finished_at = queries.ms_to_utc(status.get("finished_at_ms"))
    age = None if finished_at is None else (now - finished_at).total_seconds()
    published = bool(status.get("published"))
    components.show_freshness(
        f"Last refresh cycle finished {_when(finished_at, now)}; "
        + ("serving.duckdb published." if published else "NOTHING was built or published.")
        + (
            " Its data tests covered every row."
            if status.get("tested_all_rows")
            else " Its data tests covered the rows this cycle wrote."
        ),
        "very_stale"
        if not published
        else components.freshness_level(
            age, queries.BUILD_STALE_AFTER_S, queries.BUILD_VERY_STALE_AFTER_S
        ),
    )
    checks_ok = status.get("checks_ok")
    verdict = status.get("checks_verdict")
    if status.get("kept_previous_copy"):
        failed = [
            str(failure.get("message"))
            for failure in status.get("check_failures") or []
            if isinstance(failure, dict) and failure.get("severity") == "critical"
        ]
        st.error(
            PREVIOUS_COPY_KEPT
            + (f" {len(failed)} critical: " + "; ".join(failed[:3]) if failed else "")
        )
    elif verdict == "warning":
        st.warning(
            "Published with warnings: expectations of `warning` severity failed in the last "
            "refresh cycle (listed under Great Expectations below)."
        )
    _metric_row(
        ("Models built", _count(status.get("models_built")), "dbt_models_built"),
        (
            "Models failed or skipped",
            _count(len(status.get("model_errors") or []) + len(status.get("models_skipped") or [])),
            "dbt_problems",
        ),
        ("Data tests passed", _count(status.get("tests_passed")), "dbt_tests_passed"),
        ("Data tests failed", _count(len(status.get("test_failures") or [])), "dbt_problems"),
        ("Data tests warned", _count(len(status.get("test_warnings") or [])), "dbt_problems"),
        (
            "Expectations",
            str(verdict)
            if isinstance(verdict, str)
            else "passed"
            if checks_ok is True
            else "FAILED"
            if checks_ok is False
            else "not run",
            "expectations_checked",
        ),
    )
    problems = _problem_rows(status)
    if problems.empty:
        st.caption("Every model built and every data test passed in that cycle.")
    else:
        st.dataframe(
            components.readable(problems, PROBLEM_LABELS),
            hide_index=True,
            column_config={
                "Failing rows": st.column_config.NumberColumn(format="localized"),
            },
        )


def _show_dbt_results(now: datetime) -> None:
    results = queries.dbt_results(get_settings().layout)
    if results.nodes.empty:
        st.info(
            "No dbt results yet: dbt writes run_results.json under the data directory's "
            "dbt/target/ after each build."
        )
        return
    nodes = results.nodes
    st.caption(
        f"dbt's results of the last build, written {_when(results.generated_at, now)}: "
        f"{definitions.definition('dbt_problems')}"
    )
    outcomes_col, problems_col = st.columns([1, 2])
    outcomes = queries.dbt_outcomes(nodes)
    outcomes_col.dataframe(
        components.readable(outcomes, DBT_OUTCOME_LABELS),
        hide_index=True,
        column_config={"Nodes": st.column_config.NumberColumn(format="localized")},
    )
    problems = nodes[~nodes["status"].isin(["success", "pass"])].rename(
        columns={"resource_type": "kind"}
    )
    if problems.empty:
        problems_col.success("Every node of the last build succeeded or passed.")
    else:
        problems_col.dataframe(
            components.readable(problems, PROBLEM_LABELS),
            hide_index=True,
            column_config={"Failing rows": st.column_config.NumberColumn(format="localized")},
        )


def _show_expectations() -> None:
    layout = get_settings().layout
    results = queries.expectation_results(layout)
    if results.empty:
        st.info(
            "No Great Expectations results yet: the refresh loop runs the checkpoint after "
            "each build (or run `python -m expectations`) and writes gx/latest.json under "
            "the data directory."
        )
        return
    report = queries.checkpoint_report(layout) or {}
    st.caption(
        f"The last checkpoint ran at {report.get('run_at', 'an unknown time')} over the raw "
        "events, the lake and the marts: one suite per dataset, each expectation `critical` "
        "(a failure keeps the previous published copy) or `warning` (published with a "
        f"warning). Verdict: **{report.get('verdict', 'unknown')}**."
    )
    st.dataframe(
        components.readable(results, GX_LABELS),
        hide_index=True,
        column_config={
            "Rows checked": st.column_config.NumberColumn(format="localized"),
            "Expectations evaluated": st.column_config.NumberColumn(format="localized"),
        },
    )
    failures = queries.expectation_failures(layout)
    if not failures.empty:
        st.dataframe(components.readable(failures, GX_FAILURE_LABELS), hide_index=True)
    docs = queries.data_docs_index(layout)
    if docs is not None:
        st.markdown(
            f"[Data Docs of the last checkpoint]({docs.as_uri()}) (a static site in the data "
            f"directory: open `{docs}`, or serve it with "
            f"`python -m http.server -d {docs.parent}`)."
        )


def _show_alerts() -> None:
    st.subheader("Alerts")
    found = queries.alerts(get_settings().layout)
    if found is None:
        st.info(
            "No alert has been notified yet. The alert evaluator (`python -m alerts`, started "
            "by `make demo`) judges the rules of alerts/rules.yml (or MARQUEE_ALERT_RULES) "
            "after each pipeline commit and posts to MARQUEE_ALERT_WEBHOOK_URL; docs/alerts.md."
        )
        return
    columns = {
        "At (UTC)": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm:ss"),
        "Value": st.column_config.NumberColumn(format="%.1f"),
        "Views": st.column_config.NumberColumn(format="localized"),
    }
    if found.firing.empty:
        st.success("No alert is firing: every rule's last judgement was within its limits.")
    else:
        st.error(f"{len(found.firing)} alert(s) firing now.")
        st.dataframe(
            components.readable(found.firing, ALERT_LABELS), hide_index=True, column_config=columns
        )
    st.markdown("**Notifications, newest first**")
    st.dataframe(
        components.readable(found.history, ALERT_LABELS), hide_index=True, column_config=columns
    )


def _freshness_table(frame: pd.DataFrame, now: datetime) -> pd.DataFrame:
    """Each source's age now and its state by the thresholds declared on the sources."""
    ages: list[float | None] = []
    states: list[str] = []
    for source, newest in zip(frame["source_name"], frame["newest_loaded_at"], strict=True):
        age = None if pd.isna(newest) else (now - newest.replace(tzinfo=UTC)).total_seconds()
        ages.append(age)
        thresholds = queries.source_thresholds(str(source))
        if thresholds is None:
            states.append("no threshold")
        else:
            states.append(STATE_TEXT[components.freshness_level(age, *thresholds)])
    table = frame.copy()
    table["age_s"] = ages
    table["age"] = [None if age is None else components.format_age(age) for age in ages]
    table["state"] = states
    return table


def _show_freshness(now: datetime) -> None:
    st.subheader("Freshness of every source")
    sources = queries.source_freshness()
    if sources.empty:
        st.info("The warehouse has no source_freshness rows yet; they appear with its build.")
        return
    table = _freshness_table(sources, now)
    checked = table[table["state"] != "no threshold"]
    worst = "fresh"
    for level in ("very_stale", "stale"):
        if (checked["state"] == STATE_TEXT[level]).any():
            worst = level
            break
    stale = checked[checked["state"].isin([STATE_TEXT["stale"], STATE_TEXT["very_stale"]])]
    components.show_freshness(
        "Every source with rows was loaded within its threshold."
        if worst == "fresh"
        else f"Stale sources: {', '.join(stale['source_name'])}. The pipeline may have stopped, "
        "or the warehouse was not rebuilt; see the pipeline's last commit above.",
        "fresh" if worst == "fresh" else "stale" if worst == "stale" else "very_stale",
    )
    st.dataframe(
        components.readable(table, FRESHNESS_LABELS),
        hide_index=True,
        column_config={
            "Rows": st.column_config.NumberColumn(format="localized"),
            "Newest load (UTC)": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm:ss"),
            "Lag at build (s)": st.column_config.NumberColumn(
                format="%.1f", help=definitions.definition("freshness_lag_secs")
            ),
        },
    )
    st.caption(
        "Pipeline sources turn amber after 10 min without a load and red after 60 min; "
        "follows, tips, reactions and ads can be quiet for hours and turn amber after 24 h; "
        "the quarantine has no threshold (no rejections is good news)."
    )


def _rejections_chart(hourly: pd.DataFrame) -> alt.Chart:
    return (
        alt.Chart(hourly, title="Rejected events per UTC hour")
        .mark_bar()
        .encode(
            x=alt.X("hour_start_at:T", title="Hour (UTC)"),
            y=alt.Y("sum(rejected_events):Q", title="Rejected events"),
            color=alt.Color("reason:N", title="Reason"),
            tooltip=[
                alt.Tooltip("hour_start_at:T", title="Hour (UTC)", format="%Y-%m-%d %H:00"),
                alt.Tooltip("reason:N", title="Reason"),
                alt.Tooltip("app_id:N", title="App"),
                alt.Tooltip("rejected_events:Q", title="Rejected events", format=","),
            ],
        )
        .properties(height=CHART_HEIGHT_PX)
    )


def rejection_days(
    shared: filters.Filters, status: data.ServingStatus, today: date
) -> tuple[date, date]:
    """The shared date range, extended to today when it ends at the newest day with views:
    the presets end there, but an app can send nothing valid today and only rejections."""
    end = today if status.last_day is not None and shared.end >= status.last_day else shared.end
    return shared.start, max(end, shared.start)


def _rejection_columns() -> dict[str, Any]:
    """The column settings the rejection tables by reason and by hour share."""
    return {
        "Rejected events": st.column_config.NumberColumn(
            format="localized", help=definitions.definition("rejected_events")
        ),
        "Of which whole bodies": st.column_config.NumberColumn(format="localized"),
        "Last rejected (UTC)": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm:ss"),
    }


def _show_rejections(start: date, end: date) -> None:
    st.subheader("Rejected events")
    st.caption(
        f"Events the ingestion API refused and quarantined, on the UTC days {start} to "
        f"{end}. {definitions.definition('reject_reason')} Rejections carry no creator, "
        "content type, platform or country, so only the date range applies here."
    )
    by_reason = queries.rejections_by_reason(start, end)
    total = int(by_reason["rejected_events"].sum()) if not by_reason.empty else 0
    _metric_row(
        ("Rejected events", f"{total:,}", "rejected_events"),
        (
            "Of which whole bodies",
            f"{int(by_reason['rejected_bodies'].sum()) if not by_reason.empty else 0:,}",
            "rejected_events",
        ),
        ("Reasons", f"{len(by_reason):,}", "reject_reason"),
    )
    if by_reason.empty:
        st.success(
            f"No rejected events between {start} and {end}: every event the "
            "API received in that range was valid."
        )
        return
    st.dataframe(
        components.readable(by_reason, REASON_LABELS),
        hide_index=True,
        column_config=_rejection_columns(),
    )
    hourly = queries.rejections_by_hour(start, end)
    st.altair_chart(_rejections_chart(hourly), width="stretch")
    st.markdown("**By hour, app and reason**")
    st.dataframe(
        components.readable(hourly, HOURLY_LABELS),
        hide_index=True,
        column_config={
            "Hour (UTC)": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:00"),
            "App": st.column_config.TextColumn(help=definitions.definition("app_id")),
            **_rejection_columns(),
        },
    )
    components.csv_download(hourly, HOURLY_LABELS, "rejected_events_by_hour.csv")


def _show_dead_letters() -> None:
    st.subheader("Pipeline dead letters")
    letters = queries.dead_letters()
    if letters.empty:
        st.success("The pipeline set no record aside: every record of the event log was counted.")
        return
    st.dataframe(
        components.readable(letters, DEAD_LETTER_LABELS),
        hide_index=True,
        column_config={
            "Dead letters": st.column_config.NumberColumn(
                format="localized", help=definitions.definition("pipeline_dead_letter_total")
            ),
            "Runs": st.column_config.NumberColumn(format="localized"),
        },
    )


def _show_replay() -> None:
    st.subheader("Replay after a fix")
    st.caption(
        "Once the cause of rejections is fixed (a client bug, or a validation rule that was "
        "wrong), replay the quarantine: the records are validated again with today's code and "
        "the valid ones counted exactly once (docs/pipelines-streaming.md, "
        '"Replay and backfill"; `--since`/`--until` narrow it).'
    )
    st.code(queries.REPLAY_QUARANTINE_COMMAND, language="bash")
    st.caption("Dead letters of the pipeline, after a reader fix:")
    st.code(queries.REPLAY_SEGMENTS_COMMAND, language="bash")


st.title("Data health")
now = datetime.now(UTC)
layout = get_settings().layout
st.caption(f"Data directory: {layout.root}. Times are UTC.")

_show_pipeline(queries.pipeline_status(layout), now)

st.subheader("Last build")
_show_refresh_cycle(queries.refresh_status(layout), now)
with st.expander("dbt results of the last build", expanded=False):
    _show_dbt_results(now)
st.markdown("**Great Expectations**")
_show_expectations()
_show_alerts()

# Everything above reads files; what follows needs the serving warehouse, and the empty
# state stops the page here when there is none yet.
serving = components.require_data()
rejection_start, rejection_end = rejection_days(filters.current(), serving, now.date())
try:
    _show_freshness(now)
    _show_rejections(rejection_start, rejection_end)
    _show_dead_letters()
except data.ServingUnavailableError as error:
    st.warning(f"{components.UNAVAILABLE_MESSAGE} ({error})")
_show_replay()

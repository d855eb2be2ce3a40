"""Judge every rule over its window: one observation per rule and scope value.

Windows are UTC minutes of event time, placed on the wall clock so an alert is about now:

- view metrics: the `window_minutes` minutes ending at the minute in progress, or, for a
  scope value with fewer than `min_views` views there, ending at the minute before (which
  may still be receiving its last events). Firing does not wait for a minute to close:
  a burst of failures is judged as soon as the run that holds it is committed;
- minute metrics (volumes): the `window_minutes` newest complete minutes, a minute being
  complete `SETTLE_MS` after its end (a volume of a minute still arriving would look like a
  drop);
- freshness: now against the pipeline's last commit.

An observation that cannot be judged (too few views, no baseline, no value) says so with
`breaching = None`; the state machine (`alerts.state`) then keeps the alert as it was.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import polars as pl

from alerts.metrics import MINUTE_MS, minute_metrics, view_metrics
from alerts.rules import METRICS, SCOPE_COLUMNS, Rule, Source
from marquee.lake_runs import PipelineStatus

SETTLE_MS = 20_000
"""How long after a minute's end its volume is taken as complete: the API seals a segment
every 2 s and the pipeline commits every 2 s, so 20 s leaves room for a slow run."""


@dataclass(frozen=True)
class LakeData:
    """What the evaluator judges: merged views (`alerts.metrics.merge_views`), minute rows
    and the pipeline's status, as the reader holds them for the recent past."""

    views: pl.DataFrame
    minutes: pl.DataFrame
    status: PipelineStatus


@dataclass(frozen=True)
class Observation:
    rule: Rule
    scope_value: str
    breaching: bool | None
    """True: the condition holds; False: it does not; None: not judged (too little data)."""
    value: float | None
    reference: float | None
    """The threshold, or for an anomaly the baseline mean it was compared with."""
    views: int | None
    """Views in the window (view metrics)."""
    window_start_ms: int
    window_end_ms: int
    """The window [start, end) in epoch milliseconds."""

    @property
    def key(self) -> str:
        return f"{self.rule.name}|{self.scope_value}"


def _holds(rule: Rule, value: float, reference: float) -> bool:
    if rule.kind == "threshold":
        return value > rule.value if rule.direction == "above" else value < rule.value
    if rule.direction == "above":
        return value > reference * (1 + rule.value / 100)
    return value < reference * (1 - rule.value / 100)


def _typed(frame: pl.DataFrame, rule: Rule) -> pl.DataFrame:
    if not rule.content_types:
        return frame
    return frame.filter(pl.col("content_type").is_in(list(rule.content_types)))


def _view_window(views: pl.DataFrame, rule: Rule, end_minute: int) -> dict[str, dict[str, Any]]:
    start_ms = (end_minute - rule.window_minutes + 1) * MINUTE_MS
    end_ms = (end_minute + 1) * MINUTE_MS
    inside = views.filter((pl.col("start_ms") >= start_ms) & (pl.col("start_ms") < end_ms))
    rows = view_metrics(inside, SCOPE_COLUMNS[rule.scope]).to_dicts()
    return {
        str(row["scope_value"]): {**row, "start_ms": start_ms, "end_ms": end_ms} for row in rows
    }


def _view_observations(rule: Rule, views: pl.DataFrame, now_ms: int) -> list[Observation]:
    views = _typed(views, rule)
    now_minute = now_ms // MINUTE_MS
    current = _view_window(views, rule, now_minute)
    previous = _view_window(views, rule, now_minute - 1)
    observations = []
    for scope_value in sorted(current.keys() | previous.keys()):
        row = next(
            (
                window[scope_value]
                for window in (current, previous)
                if scope_value in window and window[scope_value]["views"] >= rule.min_views
            ),
            None,
        )
        if row is None:
            row = current.get(scope_value) or previous[scope_value]
            observations.append(
                Observation(
                    rule,
                    scope_value,
                    None,
                    row[rule.metric],
                    None,
                    row["views"],
                    row["start_ms"],
                    row["end_ms"],
                )
            )
            continue
        value = row[rule.metric]
        reference: float | None = rule.value
        if rule.kind == "anomaly":
            baseline_end = row["start_ms"] // MINUTE_MS - 1
            baseline = _view_window(
                views, replace(rule, window_minutes=rule.baseline_minutes), baseline_end
            ).get(scope_value)
            usable = baseline is not None and baseline["views"] >= rule.min_views
            reference = baseline[rule.metric] if usable and baseline is not None else None
            if reference is not None and reference <= rule.min_baseline:
                reference = None
        breaching = None if value is None or reference is None else _holds(rule, value, reference)
        observations.append(
            Observation(
                rule,
                scope_value,
                breaching,
                value,
                reference,
                row["views"],
                row["start_ms"],
                row["end_ms"],
            )
        )
    return observations


def _minute_observations(rule: Rule, minutes: pl.DataFrame, now_ms: int) -> list[Observation]:
    end_minute = (now_ms - SETTLE_MS) // MINUTE_MS - 1
    first_minute = end_minute - rule.window_minutes + 1
    baseline_first = first_minute - (rule.baseline_minutes if rule.kind == "anomaly" else 0)
    per_minute = minute_metrics(
        _typed(minutes, rule).filter(pl.col("epoch_minute").is_between(baseline_first, end_minute)),
        SCOPE_COLUMNS[rule.scope],
    )
    in_window = pl.col("epoch_minute") >= first_minute
    totals = per_minute.group_by("scope_value").agg(
        pl.col(rule.metric).filter(in_window).sum().alias("window_sum"),
        pl.col(rule.metric).filter(~in_window).sum().alias("baseline_sum"),
        in_window.any().alias("in_window"),
    )
    if rule.metric != "event_volume":
        totals = totals.filter(pl.col("in_window"))  # absent: ended, not dropped
    observations = []
    for row in totals.sort("scope_value").to_dicts():
        value = row["window_sum"] / rule.window_minutes
        reference: float | None = rule.value
        if rule.kind == "anomaly":
            reference = row["baseline_sum"] / rule.baseline_minutes
            if reference <= rule.min_baseline or reference == 0:
                reference = None
        breaching = None if reference is None else _holds(rule, value, reference)
        observations.append(
            Observation(
                rule,
                str(row["scope_value"]),
                breaching,
                value,
                reference,
                None,
                first_minute * MINUTE_MS,
                (end_minute + 1) * MINUTE_MS,
            )
        )
    return observations


def _status_observations(rule: Rule, status: PipelineStatus, now_ms: int) -> list[Observation]:
    if status.last_commit_at_ms is None:
        return [Observation(rule, "all", None, None, rule.value, None, now_ms, now_ms)]
    value = (now_ms - status.last_commit_at_ms) / 1000
    return [
        Observation(
            rule,
            "all",
            _holds(rule, value, rule.value),
            value,
            rule.value,
            None,
            status.last_commit_at_ms,
            now_ms,
        )
    ]


def evaluate(rules: list[Rule], data: LakeData, now_ms: int) -> list[Observation]:
    """Every rule's observations at `now_ms` (epoch milliseconds)."""
    observations: list[Observation] = []
    for rule in rules:
        source = METRICS[rule.metric].source
        if source is Source.VIEWS:
            observations += _view_observations(rule, data.views, now_ms)
        elif source is Source.MINUTES:
            observations += _minute_observations(rule, data.minutes, now_ms)
        else:
            observations += _status_observations(rule, data.status, now_ms)
    return observations

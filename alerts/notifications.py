"""What a notification says: a JSON object with a Slack-compatible `text` (docs/alerts.md).

One notification when an alert starts firing and one when it resolves, both carrying the
same `alert_id`; `id` is unique per notification, so a receiver can drop a redelivery.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from alerts.evaluate import Observation
from alerts.rules import METRICS, Rule


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat(timespec="seconds")


def _number(value: float | None, unit: str) -> str:
    if value is None:
        return "n/a"
    text = f"{value:,.0f}" if abs(value) >= 100 or value == int(value) else f"{value:,.1f}"
    return f"{text} %" if unit == "%" else f"{text} {unit}"


def _condition(rule: Rule, reference: float | None) -> str:
    unit = METRICS[rule.metric].unit
    if rule.kind == "threshold":
        return f"{rule.direction} the threshold {_number(rule.value, unit)}"
    change = "fell" if rule.direction == "below" else "rose"
    return (
        f"{change} more than {rule.value:g} % against its baseline {_number(reference, unit)} "
        f"(the {rule.baseline_minutes} minutes before)"
    )


def _subject(rule: Rule, scope_value: str, name: str | None) -> str:
    if rule.scope == "everything":
        return "everything"
    return f"{rule.scope} {scope_value}" + (f' ("{name}")' if name else "")


def _window(start_ms: int, end_ms: int) -> str:
    start = datetime.fromtimestamp(start_ms / 1000, tz=UTC)
    end = datetime.fromtimestamp(end_ms / 1000, tz=UTC)
    return f"{start:%Y-%m-%d %H:%M}-{end:%H:%M} UTC"


Names = Callable[[str, str], str | None]
"""(scope, scope value) -> the catalogue's name of it, or None (`alerts.names`)."""


def no_names(scope: str, value: str) -> str | None:
    return None


def build(
    status: str,
    observation: Observation,
    alert_id: str,
    now_ms: int,
    reason: str = "",
    names: Names = no_names,
) -> dict[str, Any]:
    """The notification of `observation` turning an alert `firing` or `resolved`."""
    rule = observation.rule
    metric = METRICS[rule.metric]
    views = "" if observation.views is None else f" over {observation.views:,} views"
    name = names(rule.scope, observation.scope_value)
    subject = _subject(rule, observation.scope_value, name)
    value = _number(observation.value, metric.unit)
    if status == "firing":
        text = (
            f"[FIRING] {rule.name}: {metric.label} of {subject} is {value}{views}, "
            f"{_condition(rule, observation.reference)}; "
            f"{_window(observation.window_start_ms, observation.window_end_ms)}."
        )
    else:
        why = reason or f"{metric.label} is {value}{views}"
        text = (
            f"[RESOLVED] {rule.name}: {subject} is back to normal ({why}); "
            f"{_window(observation.window_start_ms, observation.window_end_ms)}."
        )
    if rule.description and status == "firing":
        text += f" {rule.description}"
    return {
        "id": str(uuid.uuid4()),
        "alert_id": alert_id,
        "status": status,
        "rule": rule.name,
        "description": rule.description,
        "metric": rule.metric,
        "unit": metric.unit,
        "kind": rule.kind,
        "direction": rule.direction,
        "threshold": rule.value,
        "scope": rule.scope,
        "scope_value": observation.scope_value,
        "scope_name": name,
        "value": observation.value,
        "baseline": observation.reference if rule.kind == "anomaly" else None,
        "views": observation.views,
        "window_start": iso(observation.window_start_ms),
        "window_end": iso(observation.window_end_ms),
        "at": iso(now_ms),
        "at_ms": now_ms,
        "reason": reason,
        "text": text,
    }

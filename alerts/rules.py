"""Alert rules: what to watch, over which scope, and when it is bad (docs/alerts.md).

Rules come from a YAML file: the defaults shipped beside this module (`alerts/rules.yml`)
or the file named by MARQUEE_ALERT_RULES. A rule is a metric (METRICS), a scope (one alert
per content, creator or platform, or one for everything), and a condition: `threshold`
compares the window's value with `value`; `anomaly` compares it with the same metric's mean
over the `baseline_minutes` before the window and fires when it moved by more than `value`
percent in the rule's direction. A rule is refused when loaded, never skipped at run time,
so a typo does not silently switch an alert off.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any, Literal

import yaml  # type: ignore[import-untyped]  # PyYAML ships no stubs

DEFAULT_RULES_FILE = Path(__file__).with_name("rules.yml")


class Source(Enum):
    """Where a metric is computed from."""

    VIEWS = "views"
    """Views by start minute (`view_summaries`, merged): rates over views, guarded by
    `min_views`; the window may end at the minute in progress."""
    MINUTES = "minutes"
    """Per-minute sums (`minute_aggregates`): volumes per minute, over complete minutes."""
    STATUS = "status"
    """The pipeline's status file: one value for everything."""


@dataclass(frozen=True)
class Metric:
    source: Source
    unit: str
    label: str


METRICS: dict[str, Metric] = {
    "playback_failure_pct": Metric(Source.VIEWS, "%", "playback failure %"),
    "vsf_pct": Metric(Source.VIEWS, "%", "video start failure %"),
    "rebuffer_pct": Metric(Source.VIEWS, "%", "rebuffer %"),
    "startup_p95_ms": Metric(Source.VIEWS, "ms", "startup time p95"),
    "concurrent_viewers": Metric(Source.MINUTES, "viewers", "average concurrent viewers"),
    "event_volume": Metric(Source.MINUTES, "events/min", "counted events per minute"),
    "freshness_s": Metric(Source.STATUS, "s", "seconds since the pipeline's last commit"),
}
"""Definitions per METRICS.md; computed in `alerts.metrics`."""

Scope = Literal["content", "creator", "platform", "everything"]
SCOPES: tuple[str, ...] = ("content", "creator", "platform", "everything")
SCOPE_COLUMNS: dict[str, str | None] = {
    "content": "content_id",
    "creator": "creator_id",
    "platform": "platform",
    "everything": None,
}


@dataclass(frozen=True)
class Rule:
    name: str
    metric: str
    scope: str
    kind: Literal["threshold", "anomaly"]
    direction: Literal["above", "below"]
    value: float
    """The threshold (in the metric's unit), or for an anomaly the change from the baseline
    in percent."""
    window_minutes: int = 1
    baseline_minutes: int = 15
    min_views: int = 20
    """Views in the window below which a view metric is not judged."""
    min_baseline: float = 0.0
    """An anomaly is judged only when the baseline is above this."""
    content_types: tuple[str, ...] = ()
    """Only content of these types (empty: all)."""
    description: str = ""

    @property
    def lookback_minutes(self) -> int:
        """The minutes of data the rule reads back from now."""
        baseline = self.baseline_minutes if self.kind == "anomaly" else 0
        return self.window_minutes + baseline + 2


_FIELDS = {
    "name",
    "metric",
    "scope",
    "kind",
    "direction",
    "value",
    "window_minutes",
    "baseline_minutes",
    "min_views",
    "min_baseline",
    "content_types",
    "description",
    "enabled",
}


class RulesError(ValueError):
    """The rules file is not valid; the message names the rule and the field."""


def _rule(entry: Any, index: int) -> Rule | None:
    if not isinstance(entry, dict):
        raise RulesError(f"rule {index}: expected a mapping, got {entry!r}")
    name = entry.get("name")
    where = f"rule {name or index}"
    unknown = set(entry) - _FIELDS
    if unknown:
        raise RulesError(f"{where}: unknown fields {sorted(unknown)}")
    if not isinstance(name, str) or not name:
        raise RulesError(f"{where}: `name` is required")
    if entry.get("enabled", True) is False:
        return None
    metric = entry.get("metric")
    if metric not in METRICS:
        raise RulesError(f"{where}: `metric` must be one of {sorted(METRICS)}")
    scope = entry.get("scope", "everything")
    if scope not in SCOPES:
        raise RulesError(f"{where}: `scope` must be one of {list(SCOPES)}")
    if METRICS[metric].source is Source.STATUS and scope != "everything":
        raise RulesError(f"{where}: {metric} has the scope `everything` only")
    kind = entry.get("kind", "threshold")
    if kind not in ("threshold", "anomaly"):
        raise RulesError(f"{where}: `kind` must be threshold or anomaly")
    direction = entry.get("direction", "above")
    if direction not in ("above", "below"):
        raise RulesError(f"{where}: `direction` must be above or below")
    value = entry.get("value")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RulesError(f"{where}: `value` must be a number")
    if kind == "anomaly" and METRICS[metric].source is Source.STATUS:
        raise RulesError(f"{where}: {metric} takes threshold rules only")
    numbers: dict[str, Any] = {}
    for field, least in (
        ("window_minutes", 1),
        ("baseline_minutes", 1),
        ("min_views", 0),
        ("min_baseline", 0),
    ):
        if field in entry:
            number = entry[field]
            if isinstance(number, bool) or not isinstance(number, int | float) or number < least:
                raise RulesError(f"{where}: `{field}` must be a number >= {least}")
            numbers[field] = number
    types = entry.get("content_types", [])
    if not isinstance(types, list) or not all(isinstance(t, str) for t in types):
        raise RulesError(f"{where}: `content_types` must be a list of content types")
    return Rule(
        name=name,
        metric=metric,
        scope=scope,
        kind=kind,
        direction=direction,
        value=float(value),
        content_types=tuple(types),
        description=str(entry.get("description", "")).strip(),
        window_minutes=int(numbers.get("window_minutes", 1)),
        baseline_minutes=int(numbers.get("baseline_minutes", 15)),
        min_views=int(numbers.get("min_views", 20)),
        min_baseline=float(numbers.get("min_baseline", 0.0)),
    )


def parse_rules(text: str) -> list[Rule]:
    """The enabled rules of a rules document (`rules:` a list of rules)."""
    document = yaml.safe_load(text)
    if not isinstance(document, dict) or not isinstance(document.get("rules"), list):
        raise RulesError("the rules file holds a mapping with a `rules:` list")
    rules = [rule for index, entry in enumerate(document["rules"]) if (rule := _rule(entry, index))]
    names = [rule.name for rule in rules]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise RulesError(f"rule names must be unique: {duplicates}")
    return rules


def load_rules(path: Path | None = None) -> list[Rule]:
    """The rules of `path`, or of the shipped defaults when None."""
    return parse_rules((path or DEFAULT_RULES_FILE).read_text(encoding="utf-8"))

"""Load shared/golden scenarios, rebased in time as their notes ask.

Every `ts` and catalogue time moves by the same whole number of minutes so that t0 lies
a few hours before now; offsets between events, and which minute each event falls in, stay
exactly as given.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

GOLDEN_DIR = Path(__file__).resolve().parents[2] / "shared" / "golden"
TIME_FIELDS = ("ts", "published_at", "expires_at", "created_at", "deleted_at")


def _parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _format(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + (
        f"{moment.microsecond // 1000:03d}Z"
    )


def _shift(record: dict[str, Any], delta: timedelta) -> dict[str, Any]:
    shifted = dict(record)
    for field in TIME_FIELDS:
        if isinstance(shifted.get(field), str):
            shifted[field] = _format(_parse(shifted[field]) + delta)
    return shifted


def load_scenario(name: str = "scenario_basic", hours_before_now: int = 6) -> dict[str, Any]:
    """The scenario with events and catalogue shifted so that t0 is hours_before_now ago."""
    scenario = json.loads((GOLDEN_DIR / f"{name}.json").read_text())
    t0 = _parse(scenario["t0"])
    target = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=hours_before_now)
    target = target.replace(second=t0.second, microsecond=t0.microsecond)
    delta = target - t0
    rebased = copy.deepcopy(scenario)
    rebased["t0"] = _format(target)
    rebased["events_in_delivery_order"] = [
        _shift(event, delta) for event in scenario["events_in_delivery_order"]
    ]
    rebased["catalogue"] = {
        kind: [_shift(record, delta) for record in records]
        for kind, records in scenario["catalogue"].items()
    }
    return rebased

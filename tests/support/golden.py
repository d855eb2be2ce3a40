"""Load shared/golden scenarios, rebased in time as their notes ask.

Every `ts` and catalogue time moves by the same whole number of minutes so that t0 lies
a few hours before now and every event on one UTC day (the marts and the dashboards count per
UTC day); offsets between events, and which minute each event falls in, stay exactly as given.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tests.support import REPO_ROOT

GOLDEN_DIR = REPO_ROOT.parent / "shared" / "golden"
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
    """The scenario with events and catalogue shifted so that t0 is hours_before_now ago, or
    as many minutes earlier as it takes for the last event to fall on t0's UTC day: a
    scenario straddling midnight (a run between about 04:00 and 06:00 UTC) would split every
    daily mart in two."""
    scenario = json.loads((GOLDEN_DIR / f"{name}.json").read_text())
    t0 = _parse(scenario["t0"])
    offsets = [
        _parse(event["ts"]) - t0
        for event in scenario["events_in_delivery_order"]
        if isinstance(event.get("ts"), str)
    ]
    target = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=hours_before_now)
    target = target.replace(second=t0.second, microsecond=t0.microsecond)
    next_midnight = datetime.combine(
        (target + min(offsets)).date() + timedelta(days=1), datetime.min.time(), UTC
    )
    overshoot = target + max(offsets) - next_midnight
    if overshoot >= timedelta(0):
        target -= timedelta(minutes=overshoot // timedelta(minutes=1) + 1)
    assert (target + min(offsets)).date() == (target + max(offsets)).date(), name
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


GOLDEN_ADMIN_TOKEN = "golden-admin-token"
_BUILT_WAREHOUSES: dict[str, tuple[dict[str, Any], Path]] = {}


def build_golden_warehouse(
    data_dir: Path, scenario: dict[str, Any], env: dict[str, str] | None = None
) -> Path:
    """Run a rebased scenario through the real parts and return the built dbt warehouse.

    `env` adds settings for the API and the pipeline (e.g. a wider lateness horizon for a
    scenario that spans more than the default 7 days).

    The catalogue goes through the admin endpoints and the events through the real API
    process in batches of 7 (delivery order and client retry as the scenario gives them);
    then the pipeline's local mode runs once as its own command and `dbt build` builds
    every model and runs every test.
    """
    # Imported here so that loading a scenario needs neither a server nor dbt.
    import httpx

    from marquee.layout import DataLayout
    from refresh.dbt_cli import run_dbt_build
    from tests.support.api import APP_ID, WRITE_KEY, start_api

    api = start_api(
        data_dir,
        {
            "MARQUEE_WRITE_KEYS": f"{APP_ID}:{WRITE_KEY}",
            "MARQUEE_ADMIN_TOKEN": GOLDEN_ADMIN_TOKEN,
            **(env or {}),
        },
    )
    try:
        for kind in ("creators", "content"):
            response = httpx.put(
                f"{api.url}/v1/catalog/{kind}",
                json=scenario["catalogue"][kind],
                headers={"Authorization": f"Bearer {GOLDEN_ADMIN_TOKEN}"},
            )
            assert response.status_code == 200, response.text
        events = scenario["events_in_delivery_order"]
        for start in range(0, len(events), 7):
            response = api.post({"events": events[start : start + 7]})
            assert response.status_code == 202, response.text
            assert response.json()["rejected"] == []
    finally:
        api.stop()
    pipeline = subprocess.run(
        [sys.executable, "-m", "pipelines", "local", "--once"],
        cwd=REPO_ROOT, env=dict(os.environ, MARQUEE_DATA_DIR=str(data_dir), **(env or {})),
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert pipeline.returncode == 0, pipeline.stderr[-3000:]
    layout = DataLayout(data_dir)
    build = run_dbt_build(layout)
    assert build.success, build.output[-5000:]
    return layout.dbt_db


def shared_golden_warehouse(
    base_dir: Callable[[], Path], name: str = "scenario_basic"
) -> tuple[dict[str, Any], Path]:
    """The scenario and its warehouse, built once per test session and shared by every test
    module that asks (a build takes about a minute). `base_dir` makes a fresh directory,
    e.g. `lambda: tmp_path_factory.mktemp("golden")`; it is called only for the first build.
    """
    if name not in _BUILT_WAREHOUSES:
        scenario = load_scenario(name)
        _BUILT_WAREHOUSES[name] = (scenario, build_golden_warehouse(base_dir() / "data", scenario))
    return _BUILT_WAREHOUSES[name]

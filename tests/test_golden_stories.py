"""The golden scenario's stories and live stream, checked on the engagement marts.

`../shared/golden/scenario_basic.json` (rebased in time) goes through the real API,
pipeline and `dbt build` once per session (`tests.support.golden.shared_golden_warehouse`). Every
value under `expected.stories` is read from the `stories` mart (percentages within 0.01,
counts exactly). The scenario's live stream has no expected section, so its session row is
checked against a recount of the scenario's own events.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tests.support.golden import shared_golden_warehouse

pytestmark = pytest.mark.integration

TOLERANCE = 0.01


@pytest.fixture(scope="module")
def golden(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    return shared_golden_warehouse(lambda: tmp_path_factory.mktemp("golden"))


def mart_row(db: Path, sql: str, key: str) -> dict[str, Any]:
    with duckdb.connect(str(db), read_only=True) as connection:
        relation = connection.execute(sql, [key])
        names = [column[0] for column in relation.description]
        rows = [dict(zip(names, row, strict=True)) for row in relation.fetchall()]
    assert len(rows) == 1, f"one row for {key}"
    return rows[0]


def unique_events(scenario: dict[str, Any]) -> list[dict[str, Any]]:
    """The scenario's events once each (the client retry counts once)."""
    return list(
        {event["event_id"]: event for event in scenario["events_in_delivery_order"]}.values()
    )


def test_stories_mart_matches_every_expected_story_value(
    golden: tuple[dict[str, Any], Path],
) -> None:
    scenario, db = golden
    expected_stories = scenario["expected"]["stories"]
    assert expected_stories, "the scenario expects story values"
    for story_id, fields in expected_stories.items():
        row = mart_row(db, "select * from main.stories where story_id = ?", story_id)
        for name, value in fields.items():
            if isinstance(value, int):
                assert row[name] == value, f"stories.{story_id}.{name}: {row[name]} != {value}"
            else:
                assert row[name] == pytest.approx(value, abs=TOLERANCE), (
                    f"stories.{story_id}.{name}: {row[name]} != {value}"
                )


def test_valid_and_invalid_reactions_account_for_every_reaction(
    golden: tuple[dict[str, Any], Path],
) -> None:
    scenario, db = golden
    sent: dict[str, int] = defaultdict(int)
    for event in unique_events(scenario):
        if event["type"] == "reaction_added" and event.get("target_type") == "story":
            sent[event["target_id"]] += 1
    assert sent, "the scenario reacts to stories"
    for story_id, count in sent.items():
        row = mart_row(db, "select * from main.stories where story_id = ?", story_id)
        assert row["reactions"] == count
        assert row["valid_reactions"] + row["invalid_reactions"] == count


def epoch_minute(ts: str) -> int:
    return int(datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp() // 60)


def test_live_session_matches_a_recount_of_the_scenario(
    golden: tuple[dict[str, Any], Path],
) -> None:
    scenario, db = golden
    live_events = [
        event for event in unique_events(scenario) if event.get("content_type") == "live"
    ]
    assert live_events, "the scenario has a live stream"
    live_id = live_events[0]["content_id"]
    concurrent_ms: dict[int, int] = defaultdict(int)
    watched_ms = 0
    for event in live_events:
        minute = epoch_minute(event["ts"])
        concurrent_ms[minute] += event.get("played_ms", 0) + event.get("stalled_ms", 0)
        watched_ms += sum(
            event.get(field, 0) for field in ("startup_ms", "played_ms", "stalled_ms", "seek_ms")
        )
    stream_minutes = max(concurrent_ms) - min(concurrent_ms) + 1

    row = mart_row(db, "select * from main.live_sessions where live_id = ?", live_id)

    assert row["views"] == len(
        {event["session_id"] for event in live_events if "session_id" in event}
    )
    assert row["play_requests"] == sum(
        1 for event in live_events if event["type"] == "play_requested"
    )
    assert row["unique_viewers"] == len({event["viewer_id"] for event in live_events})
    assert row["stream_minutes"] == stream_minutes
    assert row["watched_ms"] == watched_ms
    assert row["peak_concurrent_viewers"] == pytest.approx(max(concurrent_ms.values()) / 60000)
    assert row["avg_concurrent_viewers"] == pytest.approx(
        sum(concurrent_ms.values()) / 60000 / stream_minutes
    )
    assert row["peak_concurrent_viewers"] > row["avg_concurrent_viewers"]
    with duckdb.connect(str(db), read_only=True) as connection:
        curve = connection.execute(
            "select minutes_since_start, avg_concurrent_viewers from main.live_minute_retention"
            " where live_id = ? order by 1",
            [live_id],
        ).fetchall()
    first = min(concurrent_ms)
    assert curve == [
        (offset, pytest.approx(concurrent_ms.get(first + offset, 0) / 60000))
        for offset in range(stream_minutes)
    ]

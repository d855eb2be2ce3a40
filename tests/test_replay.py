"""Replay and backfill over a real segment log, a real quarantine and the real pipeline.

Quarantine: the real API (a separate process) refuses the golden events because its
lateness horizon is set to one minute; after the "fix" (the default 7-day horizon) a
replay re-validates them through the ingest path, feeds them to the event log, and local
mode counts them: the minute totals become the golden ones. Segments: local mode first runs
with an "older reader" that refuses half of the event ids (simulated by narrowing the
pipeline's event-id pattern while it runs), and one segment is sealed after that run; a
replay counts exactly the refused records and the unconsumed segment.

Both replays run again, also after the pipeline forgot every seen event id (as it does
after 24 h), and must change nothing.
"""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import httpx
import pytest

import pipelines.validation
from marquee.eventlog.segments import iter_sealed_records
from marquee.layout import DataLayout
from marquee.settings import Settings
from pipelines.local_runner import LocalRunner
from pipelines.replay import Replay, ReplaySummary
from tests.support import REPO_ROOT
from tests.support.api import WRITE_KEY, start_api
from tests.support.golden import load_scenario
from tests.support.segments import golden_log_lines, random_split, totals, write_segments

pytestmark = pytest.mark.integration


def forget_every_seen_id(layout: DataLayout) -> None:
    """What the pipeline does to ids older than its 24 h window, to all of them at once."""
    with duckdb.connect(str(layout.state_db)) as conn:
        conn.execute("delete from seen_events")


def golden_totals(where: Path) -> dict[str, dict[str, int]]:
    """Minute totals per content of the golden events ingested directly, checked against
    the scenario's expected numbers."""
    lines, expected = golden_log_lines(load_scenario())
    layout = DataLayout(where)
    write_segments(layout, [lines])
    LocalRunner(layout).drain()
    found = totals(layout)
    assert {key: found[key] for key in expected} == expected
    return found


def replay_cli(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "pipelines", "replay", *args, "--no-progress"],
        cwd=REPO_ROOT,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    return done.stdout


def test_quarantine_replay_counts_what_is_valid_now_once(data_dir: Path) -> None:
    scenario = load_scenario()
    api = start_api(data_dir, {"MARQUEE_LATENESS_HORIZON_S": "60"})
    try:
        golden = scenario["events_in_delivery_order"]
        answer = api.post(golden).json()
        assert answer["accepted"] == 0
        assert {item["reason"] for item in answer["rejected"]} == {"event_too_old"}
        missing_platform = {key: value for key, value in golden[0].items() if key != "platform"}
        assert api.post([missing_platform]).json()["rejected"][0]["reason"] == "missing_field"
        malformed = httpx.post(
            f"{api.url}/v1/events",
            content=b'{"events": [',
            headers={"X-Write-Key": WRITE_KEY, "Content-Type": "application/json"},
        )
        assert malformed.status_code == 400
    finally:
        api.stop()

    settings = Settings()
    layout = settings.layout
    assert not list(layout.lake_dir.glob("*/run-*.parquet")), "nothing was counted yet"
    unique = len({event["event_id"] for event in golden})

    first = Replay(settings, progress=False).quarantine(None, None)
    assert first.records_read == len(golden) + 2
    assert first.newly_counted == unique
    assert first.duplicates_skipped == len(golden) - unique
    assert first.still_invalid == {"missing_field": 1, "malformed_body": 1}
    assert totals(layout) == golden_totals(data_dir.parent / "reference")

    again = replay_cli("--quarantine")
    assert re.search(r"newly counted\s+0\s", again), again
    assert re.search(rf"already replayed\s+{len(golden)}\s", again), again
    forget_every_seen_id(layout)
    after_window = Replay(settings, progress=False).quarantine(None, None)
    assert after_window.newly_counted == 0
    assert after_window.already_replayed == len(golden)
    assert totals(layout) == golden_totals(data_dir.parent / "reference")


def test_quarantine_replay_takes_only_the_chosen_time_range(data_dir: Path) -> None:
    api = start_api(data_dir, {"MARQUEE_LATENESS_HORIZON_S": "60"})
    try:
        golden = load_scenario()["events_in_delivery_order"]
        api.post(golden[:10])
        time.sleep(0.05)
        middle = int(time.time() * 1000)
        time.sleep(0.05)
        api.post(golden[10:])
    finally:
        api.stop()
    settings = Settings()
    before = Replay(settings, progress=False).quarantine(None, middle)
    assert before.records_read == 10
    after = Replay(settings, progress=False).quarantine(middle, None)
    assert after.records_read == len(golden) - 10
    assert totals(settings.layout) == golden_totals(data_dir.parent / "reference")


@pytest.mark.parametrize("refused", ["event", "body"])
def test_quarantine_replay_corrects_the_clock_and_fills_the_cdn_country(
    data_dir: Path, refused: str
) -> None:
    """Refused events replay with their request's `sent_at` and CDN country, so they get the
    event time and country the API would have given them; without them a refused event's
    time would be its client clock's, an hour off here, and neither would have a country.

    `event`: the API refuses the event (too old for a 60 s horizon). `body`: it refuses the
    whole body (more events than its limit of one), which keeps its own `sent_at`.
    """
    limits = (
        {"MARQUEE_LATENESS_HORIZON_S": "60"}
        if refused == "event"
        else {"MARQUEE_MAX_EVENTS_PER_REQUEST": "1"}
    )
    api = start_api(data_dir, {**limits, "MARQUEE_TRUSTED_COUNTRY_HEADER": "CF-IPCountry"})
    client_behind_ms = 3_600_000
    now_ms = int(time.time() * 1000)
    event_time_ms = now_ms - 600_000  # ten minutes ago
    template = {
        key: value
        for key, value in load_scenario()["events_in_delivery_order"][0].items()
        if key != "country"
    }
    events = [
        {
            **template,
            "event_id": f"0a1b2c3d-0000-4000-8000-00000000caf{n}",
            "seq": n,
            "ts": event_time_ms - client_behind_ms,
        }
        for n in range(1 if refused == "event" else 2)
    ]
    try:
        answer = httpx.post(
            f"{api.url}/v1/events",
            json={"sent_at": now_ms - client_behind_ms, "events": events},
            headers={"X-Write-Key": WRITE_KEY, "CF-IPCountry": "NZ"},
        )
        if refused == "event":
            assert answer.json()["rejected"] == [{"index": 0, "reason": "event_too_old"}]
        else:
            assert answer.status_code != 202, answer.text
    finally:
        api.stop()

    settings = Settings()
    assert Replay(settings, progress=False).quarantine(None, None).newly_counted == len(events)
    records = [json.loads(line) for line in iter_sealed_records(settings.layout.log_dir)]
    replayed = {record["event_id"]: record for record in records}
    for event in events:
        record = replayed[event["event_id"]]
        assert abs(record["event_time_ms"] - event_time_ms) < 60_000, "client clock corrected"
        assert record.get("country") == "NZ"


def old_reader(monkeypatch: pytest.MonkeyPatch) -> None:
    """A pipeline version that refused event ids starting with 8-f (a reader bug)."""
    monkeypatch.setattr(
        pipelines.validation,
        "UUID_PATTERN",
        r"^[0-7][0-9a-f]{7}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$",
    )


def test_segment_replay_counts_refused_and_unconsumed_records_once(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings()
    layout = settings.layout.ensure()
    lines, _ = golden_log_lines(load_scenario())
    expected = golden_totals(data_dir.parent / "reference")
    chunks = random_split(lines, random.Random(4))
    broken = json.dumps({"type": "heartbeat", "event_id": "a" * 8}).encode() + b"\n"
    first, last = chunks[:-1], chunks[-1]
    first[0] = [*first[0], broken]
    write_segments(layout, first)
    with monkeypatch.context() as patched:
        old_reader(patched)
        LocalRunner(layout).drain()
    write_segments(layout, [last], start=len(first))
    assert totals(layout) != expected

    summary = Replay(settings, progress=False).segments("..")
    refused_ids = {
        json.loads(line)["event_id"] for chunk in first for line in chunk if line != broken
    }
    refused = {event_id for event_id in refused_ids if event_id[0] in "89abcdef"}
    assert summary.segments == len(chunks)
    assert summary.pending_segments == 1
    assert summary.pending_records == len(last)
    assert summary.newly_counted == len(refused)
    assert summary.still_invalid == {"missing_required_field": 1}
    assert summary.already_counted + summary.newly_counted + summary.duplicates_skipped + 1 == (
        sum(len(chunk) for chunk in first)
    )
    assert totals(layout) == expected

    assert_nothing_changes(settings, expected)
    forget_every_seen_id(layout)
    assert_nothing_changes(settings, expected)


def assert_nothing_changes(settings: Settings, expected: dict[str, dict[str, int]]) -> None:
    summary: ReplaySummary = Replay(settings, progress=False).segments("..")
    assert summary.newly_counted == 0
    assert summary.pending_segments == 0
    assert totals(settings.layout) == expected


def test_segment_range_selects_by_name_or_prefix(data_dir: Path) -> None:
    settings = Settings()
    layout = settings.layout.ensure()
    lines, _ = golden_log_lines(load_scenario())
    expected = golden_totals(data_dir.parent / "reference")
    write_segments(layout, [lines[:10], lines[10:20], lines[20:]])
    names = sorted(path.name for path in layout.log_dir.glob("*.seg"))
    middle = Replay(settings, progress=False).segments(f"{names[1]}..{names[1]}")
    assert middle.segments == 1
    assert middle.records_read == 10
    by_prefix = Replay(settings, progress=False).segments(f"{names[1][:13]}..")
    assert by_prefix.segments == 2
    assert totals(layout) == expected


def test_replay_refuses_an_empty_range_spec(data_dir: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pipelines", "replay", "--segments", "nonsense"],
        cwd=REPO_ROOT,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert "FROM..TO" in done.stderr

"""Crash test across processes: kill -9 of the API, the pipeline, the refresh loop and its dbt
worker at random moments under load, then every acknowledged event counted exactly once.

The short form of `make soak --kill-every` (`tools.soak.run_soak`): the demo's parts on a
fresh data directory under the demo's rate for 90 s, one of the four killed every 6 to
10 s (each kind in turn from a shuffled deck), the demo's supervisor restarting them. The
soak's client retries every unanswered batch with the same event ids, and posts a share of
acknowledged batches a second time. Once every batch is acknowledged and the pipeline has
consumed every log segment, each content-minute of the lake's `minute_aggregates` must
hold exactly the acknowledged attempts and played ms, and a refresh cycle started after
the last kill must publish.

It fails when exactly-once breaks: tried by hand, a client that gives a resent batch new
event ids (`LoadClient._post_until_acknowledged` patched) left 16 of 16 content-minutes of
a 30 s run above their acknowledged totals. The same holds for a pipeline that dropped its
deduplication by event id, or a lake read that counted a run's rows twice.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tools.demo import DEMO_RATE
from tools.soak.run import KILLABLE, SoakOptions, report_lines, run_soak

pytestmark = [pytest.mark.integration, pytest.mark.timeout(420)]

MIN_KILLS = 8


def test_kill_9_across_processes_counts_every_acknowledged_event_once(tmp_path: Path) -> None:
    options = SoakOptions(
        minutes=1.5,
        rate=DEMO_RATE,
        kill_every_s=8.0,
        refresh_interval_s=5,
        drain_timeout_s=120.0,
        publish_timeout_s=180.0,
    )
    report = run_soak(options, tmp_path / "data")
    summary = "\n".join(report_lines(report))
    print(summary)

    assert sum(report.kills.values()) >= MIN_KILLS, summary
    assert all(report.kills[kind] >= 1 for kind in KILLABLE), summary
    assert report.retries > 0, f"no batch was retried: the API kills missed\n{summary}"
    assert report.resent_after_ack > 0, summary
    assert report.wrong_answers == [], summary
    assert report.drained, summary
    assert report.checked_minutes > 0, summary
    assert report.exactly_once_problems == [], summary
    assert report.published_after_kills, summary

"""Retention (pipelines/retention.py) and the bounded alert history (alerts/state.py).

Segment ages are set relative to now with the files' modification times (what retention
reads), and the retention runs with the real ledger of a real local-mode run.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from alerts.state import AlertStore
from marquee.layout import DataLayout
from marquee.settings import Settings
from pipelines.ledger import Ledger
from pipelines.local_runner import LocalRunner
from pipelines.maintenance import Maintenance
from pipelines.retention import Retention, RetentionPolicy
from tests.support.segments import golden_log_lines, write_segments

pytestmark = pytest.mark.unit

DAY_S = 86_400
HORIZON_S = 7 * DAY_S


def _age(path: Path, seconds: float) -> None:
    when = time.time() - seconds
    os.utime(path, (when, when))


def test_only_consumed_segments_older_than_horizon_and_retention_are_deleted(
    tmp_path: Path,
) -> None:
    layout = DataLayout(tmp_path).ensure()
    lines, _ = golden_log_lines()
    write_segments(layout, [lines[:9], lines[9:18], lines[18:27]])
    LocalRunner(layout).drain()
    consumed = sorted(layout.log_dir.glob("*.seg"))
    assert len(consumed) == 3
    write_segments(layout, [lines[27:]], start=1000)  # sealed, never consumed
    unconsumed = sorted(set(layout.log_dir.glob("*.seg")) - set(consumed))
    assert len(unconsumed) == 1
    open_segment = layout.log_dir / "9999999999999-writer00-000001.open"
    open_segment.write_bytes(lines[0])
    # Old enough: past the horizon (7 days) and the retention (1 day).
    for path in [consumed[0], consumed[1], *unconsumed, open_segment]:
        _age(path, HORIZON_S + DAY_S + 60)
    _age(consumed[1], HORIZON_S + DAY_S - 60)  # within the retention: kept
    quarantine = layout.quarantine_dir
    old_q, young_q = quarantine / "1-q-000001.seg", quarantine / "2-q-000001.seg"
    old_q.write_text("{}\n")
    young_q.write_text("{}\n")
    open_q = quarantine / "3-q-000001.open"
    open_q.write_text("{}\n")
    _age(old_q, HORIZON_S + 30 * DAY_S + 60)
    _age(open_q, HORIZON_S + 30 * DAY_S + 60)
    _age(young_q, HORIZON_S + 30 * DAY_S - 60)

    policy = RetentionPolicy(HORIZON_S, log_retention_s=DAY_S, quarantine_retention_s=30 * DAY_S)
    retention = Retention(
        Ledger(layout.state_db),
        layout.log_dir,
        quarantine,
        policy,
        lambda: int(time.time() * 1000),
    )
    report = retention.step()

    assert (report.log_segments, report.quarantine_segments) == (1, 1)
    assert not consumed[0].exists()
    assert consumed[1].exists() and consumed[2].exists()
    assert unconsumed[0].exists(), "never consumed by a committed run: kept whatever its age"
    assert open_segment.exists() and open_q.exists()
    assert not old_q.exists() and young_q.exists()
    assert report.bytes_freed > 0
    # The pipeline still consumes what is left (the open segment is recovered with it).
    stats = LocalRunner(layout).run_once()
    assert stats is not None and stats.events_read == len(lines) - 27 + 1
    # Consumed now, and as old: deleted by the next step; the young segment stays.
    assert retention.step().log_segments == 2
    assert not unconsumed[0].exists()
    assert sorted(layout.log_dir.glob("*.seg")) == [consumed[1], consumed[2]]


def test_retention_follows_the_settings(tmp_path: Path) -> None:
    layout = DataLayout(tmp_path).ensure()
    lines, _ = golden_log_lines()
    write_segments(layout, [lines])
    LocalRunner(layout).drain()
    (segment,) = layout.log_dir.glob("*.seg")
    _age(segment, 3600 + 120)
    settings = Settings(data_dir=tmp_path, lateness_horizon_s=3600, log_retention_s=3600)
    maintenance = Maintenance.of(settings, layout, Ledger(layout.state_db), layout.log_dir)
    assert maintenance.step()[0].log_segments == 0
    settings = Settings(data_dir=tmp_path, lateness_horizon_s=3600, log_retention_s=60)
    maintenance = Maintenance.of(settings, layout, Ledger(layout.state_db), layout.log_dir)
    assert maintenance.step()[0].log_segments == 1
    assert not segment.exists()


def test_the_alert_history_keeps_its_newest_entries_only(tmp_path: Path) -> None:
    store = AlertStore.open(tmp_path, history_max_entries=50)
    for index in range(200):
        store._append_history([{"id": f"n{index}", "kind": "firing", "text": "x" * 150}])
    kept = [json.loads(line)["id"] for line in store.history_file.read_text().splitlines()]
    assert 50 <= len(kept) <= 55
    assert kept[-1] == "n199"
    assert kept == [f"n{index}" for index in range(200 - len(kept), 200)]

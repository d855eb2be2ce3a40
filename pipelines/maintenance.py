"""Local mode's upkeep of its data directory: retention, then lake compaction.

One step applies retention (`pipelines.retention`) and one compaction step
(`pipelines.compaction`), with the settings `MARQUEE_*_RETENTION_S` and
`MARQUEE_COMPACTION_*`. Local mode's loop takes a step every `MARQUEE_COMPACTION_INTERVAL_S`
between runs; `python -m pipelines compact` takes steps until nothing is left to compact
(for a data directory whose loop is stopped, or with the interval set to 0). Both hold the
pipeline's ledger while they change files, the lock its runs hold.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from marquee.eventlog.factory import local_directory
from marquee.layout import DataLayout
from marquee.settings import Settings
from pipelines.compaction import CompactionPolicy, Compactor, StepReport
from pipelines.ledger import Ledger
from pipelines.retention import Retention, RetentionPolicy, RetentionReport


def _wall_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class Maintenance:
    retention: Retention
    compactor: Compactor

    @classmethod
    def of(
        cls,
        settings: Settings,
        layout: DataLayout,
        ledger: Ledger,
        log_dir: Path,
        now_ms: Callable[[], int] = _wall_ms,
    ) -> Maintenance:
        quarantine_dir = local_directory(settings.quarantine_log_url, layout.quarantine_dir)
        retention = Retention(
            ledger,
            log_dir,
            quarantine_dir,
            RetentionPolicy(
                settings.lateness_horizon_s,
                settings.log_retention_s,
                settings.quarantine_retention_s,
            ),
            now_ms,
        )
        policy = CompactionPolicy(
            min_age_s=settings.compaction_min_age_s,
            min_files=settings.compaction_min_files,
            grace_s=settings.compaction_grace_s,
        )
        return cls(retention, Compactor(layout, ledger, policy, now_ms))

    def step(self) -> tuple[RetentionReport, StepReport]:
        return self.retention.step(), self.compactor.step()

    def until_done(self, max_steps: int = 10_000) -> int:
        """Steps until one compacts nothing; the number of files written."""
        written = 0
        for _ in range(max_steps):
            _, report = self.step()
            if not report.files_written:
                break
            written += report.files_written
        return written

"""Retention: sealed event-log and quarantine segments are deleted once they are no longer needed.

- An event-log segment goes once a committed run has consumed it (the ledger's
  `consumed_segments`) and it was sealed more than the lateness horizon plus
  `MARQUEE_LOG_RETENTION_S` ago (1 day by default). Its events are in the lake by then; what
  is lost is what `replay --segments` reads: the records to recount after a fix of the
  pipeline's reader (the dead letters keep their payloads in `lake/dead_letters`).
- A quarantine segment goes once it was sealed more than the lateness horizon plus
  `MARQUEE_QUARANTINE_RETENTION_S` ago (30 days by default): `replay --quarantine` can count
  its records until then. The pipeline never consumes the quarantine, so age alone decides.

A segment's age is its file's modification time: its last record's write (sealing renames,
it does not write). Open segments are never touched. Runs in local mode's loop, with the
ledger held (`pipelines.maintenance`), or as `python -m pipelines compact`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from marquee.durable import fsync_path
from marquee.eventlog.segments import sealed_segments
from pipelines.ledger import Ledger

log = logging.getLogger("pipelines.retention")


@dataclass(frozen=True)
class RetentionPolicy:
    lateness_horizon_s: int
    log_retention_s: int
    quarantine_retention_s: int


@dataclass
class RetentionReport:
    log_segments: int = 0
    quarantine_segments: int = 0
    bytes_freed: int = 0


def sealed_before(directory: Path, before_ms: int) -> list[Path]:
    """Sealed segments of `directory` last written before `before_ms`."""
    old: list[Path] = []
    for path in sealed_segments(directory):
        try:
            if path.stat().st_mtime * 1000 < before_ms:
                old.append(path)
        except FileNotFoundError:
            continue
    return old


def _delete(paths: list[Path]) -> int:
    freed = 0
    for path in paths:
        try:
            freed += path.stat().st_size
            path.unlink()
        except FileNotFoundError:
            continue
    if paths:
        fsync_path(paths[0].parent)
    return freed


class Retention:
    """Deletes what the policy allows in one log and one quarantine directory."""

    def __init__(
        self,
        ledger: Ledger,
        log_dir: Path,
        quarantine_dir: Path | None,
        policy: RetentionPolicy,
        now_ms: Callable[[], int],
    ) -> None:
        self.ledger = ledger
        self.log_dir = log_dir
        self.quarantine_dir = quarantine_dir
        self.policy = policy
        self.now_ms = now_ms

    def step(self) -> RetentionReport:
        report = RetentionReport()
        now = self.now_ms()
        horizon_ms = self.policy.lateness_horizon_s * 1000
        old = sealed_before(self.log_dir, now - horizon_ms - self.policy.log_retention_s * 1000)
        if old:
            with self.ledger.held():
                consumed = self.ledger.consumed_segments([path.name for path in old])
            expired = [path for path in old if path.name in consumed]
            report.log_segments = len(expired)
            report.bytes_freed += _delete(expired)
        if self.quarantine_dir is not None and os.path.isdir(self.quarantine_dir):
            before = now - horizon_ms - self.policy.quarantine_retention_s * 1000
            expired = sealed_before(self.quarantine_dir, before)
            report.quarantine_segments = len(expired)
            report.bytes_freed += _delete(expired)
        if report.log_segments or report.quarantine_segments:
            log.info(
                "retention: deleted %d log and %d quarantine segments (%.1f MB)",
                report.log_segments,
                report.quarantine_segments,
                report.bytes_freed / 1e6,
            )
        return report

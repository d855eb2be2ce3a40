"""What a shard's worker process is given and gives back.

No polars or numpy here: a worker imports this (to unpickle its task) before it has set its
thread count, and polars fixes its thread pool when it is imported.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class WriterConfig:
    """What a worker process needs to write like the API (picklable, no open files)."""

    data_dir: Path
    pseudonym_key: bytes
    app_id: str
    future_horizon_s: int
    lateness_horizon_s: int
    segment_max_bytes: int


@dataclass(frozen=True)
class ShardResult:
    shard: int
    delivered: int
    """Events handed out (valid, duplicate and deliberately broken copies)."""
    accepted: int
    quarantined: int
    seconds: float
    cpu_seconds: float
    """CPU time of the worker: events per CPU second is the figure that survives a busy
    machine, where wall-clock rates mostly measure the neighbours."""

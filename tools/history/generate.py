"""Generate the shards of a history on every core, with progress and a summary.

A shard is planned hour after hour on one core, so throughput comes from running shards
in separate processes (`spawn`, so no worker inherits the parent's threads).
Workers send "n more events" messages on a queue for the progress line; results, not
progress messages, make the summary.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import queue
import time
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing.queues import Queue

from tools.history.plan import HistoryPlan, Shard
from tools.history.progress import Progress
from tools.history.worker import ShardResult, WriterConfig


@dataclass(frozen=True)
class GenerationSummary:
    shards: list[ShardResult]
    seconds: float

    @property
    def delivered(self) -> int:
        return sum(result.delivered for result in self.shards)

    @property
    def accepted(self) -> int:
        return sum(result.accepted for result in self.shards)

    @property
    def quarantined(self) -> int:
        return sum(result.quarantined for result in self.shards)

    @property
    def events_per_s(self) -> float:
        return self.delivered / self.seconds if self.seconds > 0 else 0.0

    @property
    def events_per_cpu_s(self) -> float:
        """Events per CPU second of one worker: the per-core rate, whatever else runs."""
        cpu = sum(result.cpu_seconds for result in self.shards)
        return self.delivered / cpu if cpu > 0 else 0.0


_progress_queue: Queue[int] | None = None
_parent_pid: int | None = None


def _init_worker(progress_queue: Queue[int]) -> None:
    """Each worker is one core's worth: polars, imported after this, gets one thread."""
    global _progress_queue, _parent_pid
    os.environ.setdefault("POLARS_MAX_THREADS", "1")
    _progress_queue = progress_queue
    _parent_pid = os.getppid()


def _report_to_parent(events: int) -> None:
    """Send progress; a worker whose parent was killed stops instead of writing on alone
    (Ctrl-C reaches the whole process group, a SIGTERM to the parent does not)."""
    if os.getppid() != _parent_pid:
        raise SystemExit("the history command that started this worker is gone")
    if _progress_queue is not None:
        _progress_queue.put(events)


def _write_shard(
    plan: HistoryPlan,
    shard: Shard,
    config: WriterConfig,
    report: Callable[[int], None] | None,
) -> ShardResult:
    """One shard (imported here: polars must start after a worker has set its threads)."""
    from tools.history.shard import write_shard

    return write_shard(plan, shard, config, report)


def _write_shard_in_worker(plan: HistoryPlan, shard: Shard, config: WriterConfig) -> ShardResult:
    return _write_shard(plan, shard, config, _report_to_parent)


def write_history(
    plan: HistoryPlan,
    shards: list[Shard],
    config: WriterConfig,
    workers: int,
    progress_every_s: float = 5.0,
    on_shard_done: Callable[[Shard], None] | None = None,
) -> GenerationSummary:
    """Write `shards` of `plan` into the log with up to `workers` processes."""
    started = time.perf_counter()
    expected = sum(int(plan.rate * (s.end_ms - s.start_ms) / 1000) for s in shards)
    progress = Progress("generate", expected, "events", every_s=progress_every_s)
    results: list[ShardResult] = []
    if workers <= 1 or len(shards) <= 1:
        for shard in shards:
            results.append(_write_shard(plan, shard, config, progress.advance))
            if on_shard_done is not None:
                on_shard_done(shard)
    else:
        results = _write_in_processes(plan, shards, config, workers, progress, on_shard_done)
    progress.finish()
    results.sort(key=lambda result: result.shard)
    return GenerationSummary(results, time.perf_counter() - started)


def _write_in_processes(
    plan: HistoryPlan,
    shards: list[Shard],
    config: WriterConfig,
    workers: int,
    progress: Progress,
    on_shard_done: Callable[[Shard], None] | None,
) -> list[ShardResult]:
    context = multiprocessing.get_context("spawn")
    progress_queue: Queue[int] = context.Queue()
    results: list[ShardResult] = []
    with ProcessPoolExecutor(
        max_workers=min(workers, len(shards)),
        mp_context=context,
        initializer=_init_worker,
        initargs=(progress_queue,),
    ) as pool:
        pending: dict[Future[ShardResult], Shard] = {
            pool.submit(_write_shard_in_worker, plan, shard, config): shard for shard in shards
        }
        while pending:
            with contextlib.suppress(queue.Empty):
                progress.advance(progress_queue.get(timeout=0.5))
            for future in [future for future in pending if future.done()]:
                shard = pending.pop(future)
                results.append(future.result())  # a worker's error stops the whole history
                if on_shard_done is not None:
                    on_shard_done(shard)
    while True:
        try:
            progress.advance(progress_queue.get_nowait())
        except queue.Empty:
            break
    return results

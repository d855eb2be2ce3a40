"""Live mode: the simulator against the wall clock, feeding the ingestion API for ever.

Every tick the runner asks the traffic stream (`stream.TrafficStream`) for the events of
[last tick, now), cuts them into batches and queues them for a few sender threads (HTTP
latency must not hold back simulated time). A progress line goes out every few seconds;
Ctrl-C or SIGTERM stops generating, lets the queued batches go out for a few seconds, and
prints a summary. A 401/403 stops the run at
once: with a wrong write key nothing would ever be accepted.
"""

from __future__ import annotations

import queue
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any, TextIO

from marquee.catalog_files import write_catalogue
from tools.simulator.clock import DAY_MS, now_ms, utc_day
from tools.simulator.sender import Sender, chunked
from tools.simulator.stream import TrafficStream

_FATAL_STATUSES = (401, 403, 404)


class LiveRun:
    """One run of the simulator in real time; `run()` returns the process exit code."""

    def __init__(
        self,
        sim: TrafficStream,
        sender: Sender,
        *,
        batch_size: int = 100,
        workers: int = 2,
        duration_s: float | None = None,
        progress_s: float = 5.0,
        drain_s: float = 10.0,
        catalog_dir: Path | None = None,
        out: TextIO = sys.stdout,
    ) -> None:
        self.sim = sim
        self.sender = sender
        self.batch_size = batch_size
        self.duration_s = duration_s
        self.progress_s = progress_s
        self.drain_s = drain_s
        self.catalog_dir = catalog_dir
        self.out = out
        # Ticks short enough that batches stay near `batch_size` at the target rate.
        self.tick_s = min(1.0, max(0.05, batch_size / sim.rate))
        self._queue: queue.Queue[list[dict[str, Any]] | None] = queue.Queue(maxsize=256)
        self._stop = threading.Event()
        self._fatal: str | None = None
        self._generated = 0
        self._workers = [
            threading.Thread(target=self._work, name=f"sender-{i}", daemon=True)
            for i in range(workers)
        ]

    def _work(self) -> None:
        while True:
            batch = self._queue.get()
            if batch is None:
                return
            result = self.sender.send(batch)
            if result.status in _FATAL_STATUSES:
                self._fatal = result.error
                self._stop.set()

    def _say(self, line: str) -> None:
        print(line, file=self.out, flush=True)

    def run(self) -> int:
        started_ms = now_ms()
        self._write_catalogue(started_ms, started_ms)
        catalogue_day = utc_day(started_ms)
        if threading.current_thread() is threading.main_thread():
            # Ctrl-C must stop the run even when started from a script's background job,
            # which would otherwise inherit SIGINT as ignored.
            signal.signal(signal.SIGINT, signal.default_int_handler)
            signal.signal(signal.SIGTERM, lambda *_: self._stop.set())
        for worker in self._workers:
            worker.start()
        self._say(
            f"simulating {len(self.sim.world.creators)} creators at {self.sim.rate:g} events/s "
            f"(seed {self.sim.seed}) -> {self.sender.endpoint}"
        )
        last = started_ms
        next_progress = time.monotonic() + self.progress_s
        last_progress = (time.monotonic(), 0)
        try:
            if self.sim.warmup_ms:
                self._say(f"warming up: simulating the {self.sim.warmup_ms / 1000:g} s before now")
                self.sim.events_between(started_ms, started_ms)
            end_ms = None if self.duration_s is None else started_ms + int(self.duration_s * 1000)
            while not self._stop.is_set() and (end_ms is None or last < end_ms):
                self._stop.wait(self.tick_s)
                now = now_ms() if end_ms is None else min(now_ms(), end_ms)
                events = self.sim.events_between(last, now)
                last = now
                self._generated += len(events)
                for batch in chunked(events, self.batch_size):
                    while not self._stop.is_set():
                        try:
                            self._queue.put(batch, timeout=0.2)
                            break
                        except queue.Full:
                            next_progress, last_progress = self._maybe_progress(
                                started_ms, next_progress, last_progress
                            )
                if utc_day(now) != catalogue_day:
                    catalogue_day = utc_day(now)
                    self._write_catalogue(started_ms, now)
                next_progress, last_progress = self._maybe_progress(
                    started_ms, next_progress, last_progress
                )
        except KeyboardInterrupt:
            self._say("stopping: sending what is queued (Ctrl-C again to abandon it)")
        try:
            self._finish()
        except KeyboardInterrupt:
            self._abandon()
            for worker in self._workers:
                worker.join(2.0)
        self._summary(started_ms)
        if self._fatal is not None:
            self._say(f"stopped: the API refused the batches ({self._fatal})")
            return 2
        return 0

    def _write_catalogue(self, start_ms: int, now: int) -> None:
        if self.catalog_dir is None:
            return
        creators, content = self.sim.catalogue(start_ms, now)
        write_catalogue(self.catalog_dir, creators, content)
        self._say(
            f"catalogue: {len(creators)} creators, {len(content)} titles -> {self.catalog_dir}"
            f" (covers until {time.strftime('%Y-%m-%d', time.gmtime((now + DAY_MS) / 1000))})"
        )

    def _finish(self) -> None:
        """Let the workers send what is queued, for at most `drain_s`, then give up on it."""
        deadline = time.monotonic() + self.drain_s
        if self._fatal is not None:
            self._abandon()
        for _ in self._workers:
            while True:
                try:
                    self._queue.put(None, timeout=0.2)
                    break
                except queue.Full:
                    if time.monotonic() > deadline:
                        self._abandon()
        for worker in self._workers:
            worker.join(max(0.0, deadline - time.monotonic()))
        if any(worker.is_alive() for worker in self._workers):
            self._abandon()
            for worker in self._workers:
                worker.join(2.0)

    def _abandon(self) -> None:
        """Stop retrying and drop the queued batches (they are reported as unsent)."""
        self.sender.stop()
        stops = 0
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            stops += item is None
        for _ in range(stops):
            self._queue.put_nowait(None)

    def _maybe_progress(
        self, started_ms: int, next_progress: float, last: tuple[float, int]
    ) -> tuple[float, tuple[float, int]]:
        mono = time.monotonic()
        if mono < next_progress:
            return next_progress, last
        stats = self.sender.stats()
        recent_rate = (stats.sent - last[1]) / max(1e-9, mono - last[0])
        elapsed = (now_ms() - started_ms) / 1000
        self._say(
            f"[{elapsed:7.1f}s] sent {stats.sent:,} ({recent_rate:,.1f}/s, target "
            f"{self.sim.rate:g}) accepted {stats.accepted:,} rejected {stats.rejected:,} "
            f"failed {stats.failed:,} retries {stats.retries:,} queued {self._queue.qsize()}"
        )
        return mono + self.progress_s, (mono, stats.sent)

    def _summary(self, started_ms: int) -> None:
        elapsed = max(1e-9, (now_ms() - started_ms) / 1000)
        sim, stats = self.sim.stats, self.sender.stats()
        arrivals = ", ".join(f"{kind} {n:,}" for kind, n in sorted(sim.arrivals.items()))
        invalid = ", ".join(f"{kind} {n}" for kind, n in sorted(sim.invalid.items())) or "none"
        reasons = ", ".join(f"{r} {n}" for r, n in stats.reasons.most_common()) or "none"
        unsent = self._generated - stats.sent
        self._say(f"summary after {elapsed:.1f} s")
        self._say(f"  generated {self._generated:,} events from arrivals: {arrivals}")
        self._say(
            f"    duplicates {sim.duplicates:,}, late {sim.late:,}, "
            f"deliberately invalid {sim.invalid_total:,} ({invalid})"
        )
        self._say(
            f"  sent      {stats.sent:,} in {stats.batches:,} batches "
            f"({stats.sent / elapsed:,.1f} events/s, target {self.sim.rate:g})"
        )
        self._say(f"  accepted  {stats.accepted:,}")
        self._say(f"  rejected  {stats.rejected:,} ({reasons})")
        self._say(f"  failed    {stats.failed:,} (retries {stats.retries:,})")
        if stats.last_error:
            self._say(f"    last error: {stats.last_error}")
        if unsent:
            self._say(f"  unsent    {unsent:,} (still queued at the stop)")

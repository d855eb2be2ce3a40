"""One soak: the platform's long-running parts under load, optionally killed at random, then
the figures and the exactly-once check (see the package docstring)."""

from __future__ import annotations

import contextlib
import os
import random
import signal
import socket
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from marquee.layout import DataLayout
from refresh.build_report import read_refresh_status
from refresh.checkpoint_worker import CHECKPOINTS_PER_WORKER
from tools.demo import (
    HOST,
    Counters,
    DemoOptions,
    Supervisor,
    demo_environment,
    parts,
    stop_all,
    wait_until_ready,
)
from tools.soak.client import LoadClient
from tools.soak.lake_check import (
    directory_mb,
    exactly_once_problems,
    lake_file_counts,
    lake_minute_totals,
    rejected_by_reason,
    wait_drained,
)
from tools.soak.processes import ProcessFigures, children, figures, slope_mb_per_10_min

SOAK_PARTS = ("api", "pipeline", "alerts", "refresh")
"""The demo's parts a soak runs: not the simulator (the soak's own client posts) nor the
dashboard (it only reads)."""
DBT_WORKER = "dbt worker"
CHECKPOINT_WORKER = "checkpoint worker"
WORKER_MODULES = {DBT_WORKER: "refresh.dbt_worker", CHECKPOINT_WORKER: "refresh.checkpoint_worker"}
"""The refresh loop's children, each found by the module it runs."""
KILLABLE = ("api", "pipeline", "refresh", DBT_WORKER)
WATCHED = (*KILLABLE, CHECKPOINT_WORKER)
"""The processes whose figures the soak samples. The checkpoint worker is not killed (a
killed one is a crashed checkpoint, tested in tests/test_refresh.py); the loop replaces it
every CHECKPOINTS_PER_WORKER checkpoints, so it is absent at some samples and its memory is
a sawtooth: its report is the highest RSS of each worker rather than a slope."""
SAMPLE_EVERY_S = 10.0


@dataclass(frozen=True)
class SoakOptions:
    minutes: float
    rate: float
    kill_every_s: float | None = None
    """Mean seconds between kills (each wait drawn from 0.75x to 1.25x); None: no kills."""
    refresh_interval_s: int = 60
    progress_every_s: float = 30.0
    drain_timeout_s: float = 300.0
    publish_timeout_s: float = 300.0
    seed: int = 22


@dataclass
class SoakReport:
    seconds: float = 0.0
    acknowledged_events: int = 0
    p99_latency_ms: float | None = None
    retries: int = 0
    resent_after_ack: int = 0
    wrong_answers: list[str] = field(default_factory=list)
    start: dict[str, ProcessFigures | None] = field(default_factory=dict)
    """Once warm (`_warm`), when memory sampling starts; the first figures when the run
    never was (too short)."""
    end: dict[str, ProcessFigures | None] = field(default_factory=dict)
    slopes: dict[str, float | None] = field(default_factory=dict)
    checkpoint_worker_peaks: dict[int, float] = field(default_factory=dict)
    """The highest RSS (MB) sampled of each checkpoint worker, by pid in the order seen."""
    data_dir_mb: float = 0.0
    lake_files: dict[str, int] = field(default_factory=dict)
    rejected: Counter[str] = field(default_factory=Counter)
    kills: Counter[str] = field(default_factory=Counter)
    drained: bool = False
    checked_minutes: int = 0
    exactly_once_problems: list[str] = field(default_factory=list)
    published_after_kills: bool | None = None
    """A refresh cycle started after the last kill (without kills: after the load began)
    published (None: not waited for)."""

    @property
    def events_per_s(self) -> float:
        return self.acknowledged_events / self.seconds if self.seconds else 0.0

    @property
    def exactly_once(self) -> bool:
        return self.drained and self.checked_minutes > 0 and not self.exactly_once_problems


class Platform:
    """The soak's parts under the demo's `Supervisor`, on a loopback port of their own."""

    def __init__(self, data_dir: Path, refresh_interval_s: int) -> None:
        env, self.write_key = demo_environment()
        env["MARQUEE_DATA_DIR"] = str(data_dir)
        port = _free_port()
        self.url = f"http://{HOST}:{port}"
        options = DemoOptions(0, 0, port, 0, refresh_interval_s)
        chosen = [p for p in parts(self.write_key, data_dir, options) if p.name in SOAK_PARTS]
        self.parts = {part.name: part for part in chosen}
        self.supervisor = Supervisor(env, Counters())
        self.refresh_groups: set[int] = set()
        """Process groups of every refresh loop started: a killed loop's dbt worker lives on
        until its build ends, and is ended with its group at `stop`."""

    def start(self) -> None:
        for part in self.parts.values():
            self.supervisor.start(part)
            if part.name == "api":
                wait_until_ready(f"{self.url}/readyz", part)
        self._note_groups()

    def watch(self) -> None:
        self.supervisor.watch()
        self._note_groups()

    def pid(self, kind: str) -> int | None:
        """The live process of a kind; the dbt and checkpoint workers are the refresh loop's
        children (`WORKER_MODULES`), None while the loop has none."""
        if kind in WORKER_MODULES:
            loop = self.pid("refresh")
            return next(iter(children(loop, WORKER_MODULES[kind])), None) if loop else None
        process = self.parts[kind].process
        return process.pid if process is not None and process.poll() is None else None

    def stop(self) -> None:
        stop_all(self.supervisor.running)
        for group in self.refresh_groups:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(group, signal.SIGKILL)

    def _note_groups(self) -> None:
        process = self.parts["refresh"].process
        if process is not None:
            self.refresh_groups.add(process.pid)  # started in a session of its own


@dataclass
class Killer:
    """kill -9 of one of KILLABLE at random moments: the kinds are drawn from a shuffled deck
    (refilled when empty) so each is killed about as often; a kind with no live process
    (the dbt worker before a build, a part waiting to restart) waits for the next turn."""

    platform: Platform
    every_s: float
    rng: random.Random
    kills: Counter[str] = field(default_factory=Counter)
    deck: list[str] = field(default_factory=list)
    next_at: float = 0.0
    last_kill_ms: int | None = None

    def __post_init__(self) -> None:
        self.next_at = time.monotonic() + self._wait()

    def _wait(self) -> float:
        return self.rng.uniform(0.75, 1.25) * self.every_s

    def tick(self) -> None:
        if time.monotonic() < self.next_at:
            return
        if not self.deck:
            self.deck = self.rng.sample(KILLABLE, len(KILLABLE))
        for kind in list(self.deck):
            pid = self.platform.pid(kind)
            if pid is None:
                continue
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
                self.kills[kind] += 1
                self.last_kill_ms = int(time.time() * 1000)
                self.deck.remove(kind)
                print(f"[soak     ] kill -9 {kind} (pid {pid})", flush=True)
                self.next_at = time.monotonic() + self._wait()
                return
        self.next_at = time.monotonic() + 1.0  # none of the deck's kinds is up: soon again


def run_soak(options: SoakOptions, data_dir: Path) -> SoakReport:
    """Run the parts on `data_dir` (fresh) under load for `options.minutes`, then drain and
    check; the parts are stopped before returning."""
    layout = DataLayout(data_dir)
    platform = Platform(data_dir, options.refresh_interval_s)
    report = SoakReport()
    samples: dict[str, list[tuple[float, float]]] = {kind: [] for kind in KILLABLE}
    rng = random.Random(options.seed)
    try:
        platform.start()
        client = LoadClient(platform.url, platform.write_key, options.rate, seed=options.seed)
        killer = Killer(platform, options.kill_every_s, rng) if options.kill_every_s else None
        started = time.monotonic()
        client.start()
        load_started_ms = int(time.time() * 1000)
        next_sample = next_progress = started
        first: dict[str, ProcessFigures | None] = {}
        while (elapsed := time.monotonic() - started) < options.minutes * 60:
            platform.watch()
            if killer:
                killer.tick()
            if time.monotonic() >= next_sample:
                next_sample += SAMPLE_EVERY_S
                now = _snapshot(platform)
                first = first or now
                _note_checkpoint_worker(report, now)
                if not report.start and _warm(layout, now):
                    report.start = now
                for kind in KILLABLE:
                    if report.start and (figure := now[kind]) is not None:
                        samples[kind].append((elapsed, figure.rss_mb))
                if time.monotonic() >= next_progress:
                    next_progress += options.progress_every_s
                    progress = _progress(elapsed, client, killer, layout, now)
                    print(f"[soak     ] {progress}", flush=True)
            time.sleep(0.25)
        client.stop_producing()
        report.seconds = time.monotonic() - started
        report.end = _snapshot(platform)
        _note_checkpoint_worker(report, report.end)
        report.start = report.start or first
        if killer:
            report.kills = killer.kills
        since_ms = killer.last_kill_ms if killer and killer.last_kill_ms else load_started_ms
        _finish(report, client, platform, layout, options, samples, since_ms)
    finally:
        platform.stop()
    return report


def _finish(
    report: SoakReport,
    client: LoadClient,
    platform: Platform,
    layout: DataLayout,
    options: SoakOptions,
    samples: dict[str, list[tuple[float, float]]],
    publish_since_ms: int,
) -> None:
    """Every batch acknowledged, the log drained, then the figures and the checks."""
    acknowledged = _wait(platform, lambda: client.wait_acknowledged(0.5), options.drain_timeout_s)
    report.drained = acknowledged and _wait(
        platform, lambda: wait_drained(layout, 0.5), options.drain_timeout_s
    )
    stats = client.stats
    report.acknowledged_events = stats.acknowledged_events
    latencies = sorted(stats.latencies_s)
    if latencies:
        report.p99_latency_ms = 1000 * latencies[len(latencies) * 99 // 100]
    report.retries, report.resent_after_ack = stats.retries, stats.resent_after_ack
    report.wrong_answers = stats.wrong_answers
    report.slopes = {kind: slope_mb_per_10_min(points) for kind, points in samples.items()}
    report.data_dir_mb = directory_mb(layout.root)
    report.lake_files = lake_file_counts(layout)
    report.rejected = rejected_by_reason(layout)
    if not report.drained:
        report.exactly_once_problems = [
            f"not drained: {client.outstanding} batches unacknowledged or log segments unconsumed"
        ]
        return
    expected = {
        key: (client.attempts[key], client.played_ms[key])
        for key in client.attempts.keys() | client.played_ms.keys()
    }
    lake = lake_minute_totals(layout)
    report.checked_minutes = len(expected)
    report.exactly_once_problems = exactly_once_problems(expected, lake)
    if options.publish_timeout_s > 0:
        report.published_after_kills = _wait(
            platform, lambda: _published_since(layout, publish_since_ms), options.publish_timeout_s
        )


def _wait(platform: Platform, done: Callable[[], bool], timeout_s: float) -> bool:
    """Call `done()` (which may wait a little itself) until true, the supervisor restarting
    any part the kills left down meanwhile."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        platform.watch()
        if done():
            return True
        time.sleep(0.5)
    return False


def _warm(layout: DataLayout, now: dict[str, ProcessFigures | None]) -> bool:
    """Every killable process up and the refresh loop through its first cycle (so the
    pipeline has committed runs and dbt has built): the start of the memory figures, not the
    imports. Not the checkpoint worker, which is down after each replacement until the next
    checkpoint."""
    return (
        all(now[kind] for kind in KILLABLE)
        and read_refresh_status(layout.refresh_status) is not None
    )


def _note_checkpoint_worker(report: SoakReport, now: dict[str, ProcessFigures | None]) -> None:
    worker = now.get(CHECKPOINT_WORKER)
    if worker is not None:
        peaks = report.checkpoint_worker_peaks
        peaks[worker.pid] = max(peaks.get(worker.pid, 0.0), worker.rss_mb)


def _published_since(layout: DataLayout, since_ms: int) -> bool:
    status = read_refresh_status(layout.refresh_status)
    return bool(status and status["published"] and status["started_at_ms"] >= since_ms)


def _snapshot(platform: Platform) -> dict[str, ProcessFigures | None]:
    return {
        kind: figures(pid) if (pid := platform.pid(kind)) is not None else None for kind in WATCHED
    }


def _progress(
    elapsed: float,
    client: LoadClient,
    killer: Killer | None,
    layout: DataLayout,
    now: dict[str, ProcessFigures | None],
) -> str:
    stats = client.stats
    memory = ", ".join(f"{kind} {_mb(figure)}" for kind, figure in now.items())
    kills = sum(killer.kills.values()) if killer else 0
    return (
        f"{elapsed:5.0f} s: {stats.acknowledged_events:,} events acknowledged "
        f"({stats.acknowledged_events / max(elapsed, 1):.0f}/s), {client.outstanding} batches "
        f"waiting, {stats.retries:,} retries, {kills} kills, "
        f"{sum(lake_file_counts(layout).values()):,} lake files; RSS: {memory}"
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def print_report(report: SoakReport) -> None:
    for text in report_lines(report):
        print(f"[soak     ] {text}", flush=True)


def report_lines(report: SoakReport) -> list[str]:
    latency = f"{report.p99_latency_ms:.0f} ms" if report.p99_latency_ms is not None else "n/a"
    lines = [
        f"ran {report.seconds / 60:.1f} min: {report.events_per_s:.0f} events/s acknowledged "
        f"({report.acknowledged_events:,} events), p99 request latency {latency}, "
        f"{report.retries:,} retries, {report.resent_after_ack:,} batches resent after their "
        "acknowledgement"
    ]
    for kind in KILLABLE:
        start, end, slope = report.start.get(kind), report.end.get(kind), report.slopes.get(kind)
        trend = f"{slope:+.1f} MB per 10 min" if slope is not None else "n/a"
        lines.append(
            f"{kind:17}: RSS {_mb(start)} -> {_mb(end)}, open files {_files(start)} -> "
            f"{_files(end)}, memory slope {trend}"
        )
    lines.append(_checkpoint_worker_line(report))
    lines.append(
        f"{'total':17}: RSS {_total_mb(report.start)} -> {_total_mb(report.end)} (the processes "
        "above that were running)"
    )
    tables = ", ".join(f"{table} {count}" for table, count in report.lake_files.items())
    lines.append(f"data directory {report.data_dir_mb:.1f} MB; lake files per table: {tables}")
    reasons = ", ".join(f"{reason} {n:,}" for reason, n in report.rejected.most_common())
    lines.append(f"rejected events by reason: {reasons or 'none'}")
    kinds = ", ".join(f"{kind} {report.kills[kind]}" for kind in KILLABLE)
    lines.append(f"kills: {sum(report.kills.values())} ({kinds})")
    lines += [f"WRONG ANSWER: {problem}" for problem in report.wrong_answers[:5]]
    if report.exactly_once:
        lines.append(
            f"exactly once: OK, every acknowledged event counted once ({report.checked_minutes} "
            "content-minutes: attempts and played ms equal)"
        )
    else:
        lines.append(f"exactly once: FAILED ({len(report.exactly_once_problems)} problems)")
        lines += [f"  {problem}" for problem in report.exactly_once_problems[:10]]
    if report.published_after_kills is not None:
        outcome = "published" if report.published_after_kills else "NOT published in time"
        lines.append(f"a refresh cycle started after the last kill: {outcome}")
    return lines


def _checkpoint_worker_line(report: SoakReport) -> str:
    """Start and end as for the others, then what tells a bounded sawtooth: the highest RSS
    seen and each worker's highest (a growing series would not be bounded)."""
    start, end = report.start.get(CHECKPOINT_WORKER), report.end.get(CHECKPOINT_WORKER)
    peaks = list(report.checkpoint_worker_peaks.values())
    line = (
        f"{CHECKPOINT_WORKER:17}: RSS {_mb(start)} -> {_mb(end)}, open files {_files(start)} "
        f"-> {_files(end)}"
    )
    if not peaks:
        return f"{line}; never seen running"
    shown = [f"{mb:.0f}" for mb in peaks]
    if len(shown) > 8:
        shown = [*shown[:4], "...", *shown[-3:]]
    return (
        f"{line}, highest {max(peaks):.0f} MB; {len(peaks)} worker(s) seen (replaced every "
        f"{CHECKPOINTS_PER_WORKER} checkpoints), each one's highest: {', '.join(shown)} MB"
    )


def _total_mb(snapshot: dict[str, ProcessFigures | None]) -> str:
    running = [figure.rss_mb for figure in snapshot.values() if figure is not None]
    return f"{sum(running):.0f} MB" if running else "-"


def _mb(figure: ProcessFigures | None) -> str:
    return f"{figure.rss_mb:.0f} MB" if figure else "-"


def _files(figure: ProcessFigures | None) -> str:
    return str(figure.open_files) if figure else "-"

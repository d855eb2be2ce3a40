"""`make demo`: the whole platform on one machine, fed by the traffic simulator.

Starts, each as its own process bound to 127.0.0.1: the ingestion API (:8000), the
pipeline in local mode, the simulator posting through the real API, the alert evaluator
with the default rules (notifications posted to MARQUEE_ALERT_WEBHOOK_URL when set, else
printed), the refresh loop
(dbt build + Great Expectations checkpoint about once a minute) and the Streamlit app
(:8501). The simulator starts with a few live streams already on air, whatever the UTC hour
(scheduled lives are mostly in the afternoon and evening). Child output is prefixed with the
part's name, except the lines each pipeline run, refresh step and simulator progress report
prints: those update the counters of a status line printed every 15 s instead of scrolling
(warnings and errors are always printed). Beam's harmless import warnings about Google Cloud
filesystems it cannot load are dropped. A part that exits is started again after a backoff
(1 s doubling to 60 s) while the others keep running (`Supervisor`). Ctrl-C stops every
child cleanly (SIGTERM, then SIGKILL after 15 s).

Everything lives under MARQUEE_DATA_DIR (default ./data). A write key and an admin token
are made for the session unless MARQUEE_WRITE_KEYS / MARQUEE_ADMIN_TOKEN are set.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from marquee.backoff import Backoff
from marquee.eventlog.segments import sealed_segments
from marquee.layout import DataLayout
from marquee.settings import PROJECT_ROOT, get_settings
from tools.simulator.faults import FaultRates

HOST = "127.0.0.1"
DEMO_RATE = 200
"""The simulator's events per second in `make demo` (its default `--rate`)."""
LIVES_ON_AIR = 3
"""Live streams on air when the demo starts (fewer with fewer creators)."""

FIRST_PAGES = (
    ("live", "every stream on air, viewers per minute"),
    ("creators", "the creator leaderboard"),
    ("health", "freshness, rejected events, the last build's tests"),
)
"""The pages to open first, as the demo prints them."""

BEAM_IMPORT_NOISE = ("Failed to import GCSFileSystem", "apitools not found")
"""Warnings Beam logs at import when the Google Cloud extras are not installed; local mode
uses neither, so the relay drops them."""


@dataclass
class Part:
    name: str
    argv: list[str]
    what: str
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    started_at: float = 0.0
    restart_at: float | None = None
    """When an exited part is started again (`Supervisor`); None while it runs."""
    backoff: Backoff = field(default_factory=lambda: Backoff(1.0, 60.0), repr=False)


def demo_environment() -> tuple[dict[str, str], str]:
    """The children's environment, and the write key the simulator uses."""
    env = dict(os.environ)
    env.setdefault("MARQUEE_DATA_DIR", str(get_settings().data_dir))
    if not env.get("MARQUEE_WRITE_KEYS"):
        env["MARQUEE_WRITE_KEYS"] = f"demo:wk_{secrets.token_hex(8)}"
    env.setdefault("MARQUEE_ADMIN_TOKEN", secrets.token_hex(16))
    env["PYTHONUNBUFFERED"] = "1"
    first_pair = env["MARQUEE_WRITE_KEYS"].split(",")[0]
    return env, first_pair.partition(":")[2]


@dataclass(frozen=True)
class DemoOptions:
    rate: int
    creators: int
    api_port: int
    dashboard_port: int
    refresh_interval_s: int


def parts(write_key: str, data_dir: Path, options: DemoOptions) -> list[Part]:
    python = sys.executable
    api_url = f"http://{HOST}:{options.api_port}"
    return [
        Part("api", [python, "-m", "ingestion_api", "--host", HOST, "--port",
                     str(options.api_port), "--log-level", "warning"],
             f"ingestion API on {api_url}"),
        Part("pipeline", [python, "-m", "pipelines", "local", "--interval-s", "2"],
             "Beam local mode: sealed segments -> lake, every 2 s"),
        Part("simulator", [python, "-m", "tools.simulator", "--url", api_url,
                           "--write-key", write_key, "--rate", str(options.rate),
                           "--creators", str(options.creators),
                           "--catalog-dir", str(data_dir / "catalog"),
                           "--lives-on-air", str(min(LIVES_ON_AIR, options.creators))],
             f"traffic simulator: {options.rate} events/s, {options.creators} creators"),
        Part("alerts", [python, "-m", "alerts", "--interval-s", "2"],
             "alert evaluator: the default rules (alerts/rules.yml) after each pipeline "
             "commit; notifications to "
             + ("MARQUEE_ALERT_WEBHOOK_URL" if os.environ.get("MARQUEE_ALERT_WEBHOOK_URL")
                else "this output (set MARQUEE_ALERT_WEBHOOK_URL to post them)")),
        Part("refresh", [python, "-m", "refresh", "--interval-s",
                         str(options.refresh_interval_s)],
             f"dbt build + Great Expectations checkpoint every {options.refresh_interval_s} s"),
        Part("dashboard", [python, "-m", "streamlit", "run",
                           str(PROJECT_ROOT / "dashboards" / "streamlit_app.py"),
                           "--server.address", HOST, "--server.port",
                           str(options.dashboard_port), "--server.headless", "true",
                           "--browser.gatherUsageStats", "false"],
             f"Streamlit dashboards on http://{HOST}:{options.dashboard_port}"),
    ]  # fmt: skip


_PIPELINE_RUN = re.compile(
    r" run (\d+)(?: \(redo after a crash\))?: (\d+) segments, (\d+) events, "
    r"(\d+) duplicates, (\d+) dead letters"
)
_REFRESH_STEP = re.compile(
    r"INFO refresh\.loop: (dbt models ok|dbt tests ok|expectations checkpoint ok|published)"
)
_SIMULATOR_PROGRESS = re.compile(
    r"^\[\s*[\d.]+s\] sent ([\d,]+) .*accepted ([\d,]+) rejected ([\d,]+)"
)


@dataclass
class Counters:
    """What the per-run lines of the children said, for the status line."""

    pipeline_runs: int = 0
    events_read: int = 0
    duplicates: int = 0
    dead_letters: int = 0
    builds_published: int = 0
    tests_ok: int = 0
    checks_ok: int = 0
    sent: int = 0
    accepted: int = 0
    rejected: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def fold(self, name: str, line: str) -> bool:
        """Count a per-run line of part `name`; False when the line is to be printed (it is
        not one, or it reports a warning or failure)."""
        if name == "pipeline" and (run := _PIPELINE_RUN.search(line)):
            with self.lock:
                self.pipeline_runs += 1
                self.events_read += int(run.group(3))
                self.duplicates += int(run.group(4))
                self.dead_letters += int(run.group(5))
            return True
        if name == "refresh" and (step := _REFRESH_STEP.search(line)):
            with self.lock:
                if step.group(1) == "published":
                    self.builds_published += 1
                elif step.group(1) == "dbt tests ok":
                    self.tests_ok += 1
                elif step.group(1) == "expectations checkpoint ok":
                    self.checks_ok += 1
            # A build published with failures is counted and printed: it needs a look.
            return "WITH FAILURES" not in line
        if name == "simulator" and (progress := _SIMULATOR_PROGRESS.search(line)):
            with self.lock:
                self.sent, self.accepted, self.rejected = (
                    int(progress.group(i).replace(",", "")) for i in (1, 2, 3)
                )
            return True
        return False

    def summary(self) -> str:
        with self.lock:
            return (
                f"sent {self.sent:,} ({self.rejected:,} rejected) | pipeline: "
                f"{self.pipeline_runs:,} runs, {self.events_read:,} events, "
                f"{self.duplicates:,} duplicates, {self.dead_letters:,} dead letters | "
                f"refresh: {self.builds_published:,} builds published (tests ok "
                f"{self.tests_ok:,}, expectations ok {self.checks_ok:,})"
            )


def is_beam_import_noise(line: str) -> bool:
    return any(noise in line for noise in BEAM_IMPORT_NOISE)


def _relay(name: str, stream: object, counters: Counters) -> None:
    """Copy a child's output to ours, each line prefixed with the part's name; per-run lines
    go to the counters instead, Beam's import noise nowhere."""
    for raw in iter(stream.readline, b""):  # type: ignore[attr-defined]
        line = raw.decode("utf-8", "replace").rstrip()
        if not line or is_beam_import_noise(line) or counters.fold(name, line):
            continue
        print(f"[{name:9}] {line}", flush=True)


def wait_until_ready(url: str, part: Part, timeout_s: float = 60) -> None:
    """Wait for the API's readiness so the simulator's first posts are not refused."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if part.process is not None and part.process.poll() is not None:
            raise SystemExit(f"{part.name} exited during start-up ({part.process.returncode})")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{part.name} was not ready after {timeout_s:.0f} s")


def status_line(data_dir: Path, counters: Counters) -> str:
    """What this session's per-run lines counted, then the data directory's state: the
    published marts' age and the sealed segments of the event log."""
    segments = len(sealed_segments(data_dir / "log"))
    serving = DataLayout(data_dir).serving_db
    published = (
        f"marts published {time.time() - serving.stat().st_mtime:.0f} s ago"
        if serving.exists()
        else "marts not published yet"
    )
    return f"{counters.summary()} | {published}, {segments} sealed segments"


def invalid_share_announcement(rates: FaultRates | None = None) -> str:
    """The deliberately invalid share of the simulator's traffic (its default rates, which the
    demo keeps), said up front so that the rejections on /health read as intended."""
    rates = rates or FaultRates()
    return (
        f"about {100 * rates.invalid:g} % of events are deliberately invalid to exercise the "
        "quarantine (one broken copy of a real event, a reason each); see /health"
    )


def first_pages(dashboard_port: int) -> list[str]:
    base = f"http://{HOST}:{dashboard_port}"
    return [f"{base}/{path}   {what}" for path, what in FIRST_PAGES]


RUNS_FINE_AFTER_S = 60.0
"""A part that ran this long before it exited is restarted at once (its backoff starts over)."""


@dataclass
class Supervisor:
    """Starts the parts and starts again any that exits, with exponential backoff (1 s, 2 s,
    ... 60 s), so one part's fault (a full disk, a crash) never stops the others. The loops
    themselves retry transient faults (`marquee.backoff`); this is for what they cannot."""

    env: dict[str, str]
    counters: Counters
    running: list[Part] = field(default_factory=list)

    def start(self, part: Part) -> None:
        part.process = subprocess.Popen(
            part.argv,
            cwd=PROJECT_ROOT,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        part.started_at = time.monotonic()
        part.restart_at = None
        if part not in self.running:
            self.running.append(part)
        threading.Thread(
            target=_relay, args=(part.name, part.process.stdout, self.counters), daemon=True
        ).start()

    def watch(self) -> None:
        """Schedule a restart of each part that exited; restart those that are due."""
        now = time.monotonic()
        for part in self.running:
            if part.process is None or part.process.poll() is None:
                continue
            if part.restart_at is None:
                if now - part.started_at >= RUNS_FINE_AFTER_S:
                    part.backoff.succeeded()
                wait = part.backoff.failed()
                part.restart_at = now + wait
                print(
                    f"[demo     ] {part.name} exited ({part.process.returncode}); "
                    f"restarting it in {wait:.0f} s, the other parts keep running",
                    flush=True,
                )
            elif now >= part.restart_at:
                self.start(part)
                print(f"[demo     ] restarted {part.name}", flush=True)


def stop_all(running: list[Part]) -> None:
    for part in running:
        if part.process and part.process.poll() is None:
            part.process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 15
    for part in running:
        if part.process is None:
            continue
        try:
            part.process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            print(f"[demo     ] {part.name} did not stop in time: killing it", flush=True)
            part.process.kill()
            part.process.wait()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tools.demo", description=__doc__)
    parser.add_argument("--rate", type=int, default=DEMO_RATE, help="simulated events per second")
    parser.add_argument("--creators", type=int, default=50)
    parser.add_argument("--api-port", type=int, default=8000)
    parser.add_argument("--dashboard-port", type=int, default=8501)
    parser.add_argument("--refresh-interval-s", type=int, default=60)
    args = parser.parse_args()
    options = DemoOptions(
        args.rate, args.creators, args.api_port, args.dashboard_port, args.refresh_interval_s
    )
    env, write_key = demo_environment()
    data_dir = Path(env["MARQUEE_DATA_DIR"])
    data_dir.mkdir(parents=True, exist_ok=True)
    print(f"[demo     ] data directory: {data_dir}", flush=True)
    print(f"[demo     ] write key: {write_key}   (header X-Write-Key)", flush=True)
    print(
        f"[demo     ] admin token: {env['MARQUEE_ADMIN_TOKEN']}   "
        "(header Authorization: Bearer ..., for the catalogue and admin endpoints)",
        flush=True,
    )
    print(f"[demo     ] {invalid_share_announcement()}", flush=True)
    counters = Counters()
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    supervisor = Supervisor(env, counters)
    running = supervisor.running
    try:
        for part in parts(write_key, data_dir, options):
            supervisor.start(part)
            print(f"[demo     ] started {part.name}: {part.what}", flush=True)
            if part.name == "api":
                wait_until_ready(f"http://{HOST}:{options.api_port}/readyz", part)
        print("[demo     ] open these first (the marts appear about a minute in):", flush=True)
        for page in first_pages(options.dashboard_port):
            print(f"[demo     ]   {page}", flush=True)
        print(
            f"[demo     ] {min(LIVES_ON_AIR, options.creators)} live streams are on air from "
            "the start; Ctrl-C stops everything",
            flush=True,
        )
        next_status = time.monotonic() + 15
        while not stop.wait(1):
            supervisor.watch()
            if time.monotonic() >= next_status:
                next_status += 15
                print(f"[demo     ] {status_line(data_dir, counters)}", flush=True)
    finally:
        print("[demo     ] stopping every part", flush=True)
        stop_all(running)
        print("[demo     ] stopped", flush=True)


if __name__ == "__main__":
    main()

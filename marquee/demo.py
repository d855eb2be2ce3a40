"""`make demo`: the whole platform on one machine, fed by the traffic simulator.

Starts, each as its own process bound to 127.0.0.1: the ingestion API (:8000), the
pipeline in local mode, the simulator posting through the real API, the refresh loop
(dbt build + Great Expectations checkpoint about once a minute) and the Streamlit app
(:8501). Child output is prefixed with the part's name; a status line every 15 s says what
each part has done. Ctrl-C stops every child cleanly (SIGTERM, then SIGKILL after 15 s).

Everything lives under MARQUEE_DATA_DIR (default ./data). A write key and an admin token
are made for the session unless MARQUEE_WRITE_KEYS / MARQUEE_ADMIN_TOKEN are set.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from marquee.eventlog.segments import sealed_segments
from marquee.layout import DataLayout
from marquee.settings import PROJECT_ROOT, get_settings

HOST = "127.0.0.1"


@dataclass
class Part:
    name: str
    argv: list[str]
    what: str
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)


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
        Part("simulator", [python, "-m", "marquee.simulator", "--url", api_url,
                           "--write-key", write_key, "--rate", str(options.rate),
                           "--creators", str(options.creators),
                           "--catalog-dir", str(data_dir / "catalog")],
             f"traffic simulator: {options.rate} events/s, {options.creators} creators"),
        Part("refresh", [python, "-m", "marquee.refresh", "--interval-s",
                         str(options.refresh_interval_s)],
             f"dbt build + Great Expectations checkpoint every {options.refresh_interval_s} s"),
        Part("dashboard", [python, "-m", "streamlit", "run",
                           str(PROJECT_ROOT / "dashboards" / "streamlit_app.py"),
                           "--server.address", HOST, "--server.port",
                           str(options.dashboard_port), "--server.headless", "true",
                           "--browser.gatherUsageStats", "false"],
             f"Streamlit dashboards on http://{HOST}:{options.dashboard_port}"),
    ]  # fmt: skip


def _relay(name: str, stream: object) -> None:
    """Copy a child's output to ours, each line prefixed with the part's name."""
    for raw in iter(stream.readline, b""):  # type: ignore[attr-defined]
        line = raw.decode("utf-8", "replace").rstrip()
        if line:
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


def status_line(data_dir: Path) -> str:
    segments = len(sealed_segments(data_dir / "log"))
    try:
        pipeline = json.loads(DataLayout(data_dir).pipeline_status.read_text())
    except (OSError, ValueError):
        pipeline = {}
    runs = pipeline.get("runs_committed", 0)
    events = pipeline.get("events_read", 0)
    serving = DataLayout(data_dir).serving_db
    published = (
        f"marts published {time.time() - serving.stat().st_mtime:.0f} s ago"
        if serving.exists()
        else "marts not published yet"
    )
    return f"{segments} sealed segments, {runs} pipeline runs, {events} events read, {published}"


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
    parser = argparse.ArgumentParser(prog="python -m marquee.demo", description=__doc__)
    parser.add_argument("--rate", type=int, default=200, help="simulated events per second")
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
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    running: list[Part] = []
    try:
        for part in parts(write_key, data_dir, options):
            part.process = subprocess.Popen(
                part.argv,
                cwd=PROJECT_ROOT,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            running.append(part)
            threading.Thread(
                target=_relay, args=(part.name, part.process.stdout), daemon=True
            ).start()
            print(f"[demo     ] started {part.name}: {part.what}", flush=True)
            if part.name == "api":
                wait_until_ready(f"http://{HOST}:{options.api_port}/readyz", part)
        print(
            f"[demo     ] open http://{HOST}:{options.dashboard_port} ; Ctrl-C stops everything",
            flush=True,
        )
        while not stop.wait(15):
            print(f"[demo     ] {status_line(data_dir)}", flush=True)
            for part in running:
                if part.process and part.process.poll() is not None:
                    print(f"[demo     ] {part.name} exited ({part.process.returncode})")
                    stop.set()
    finally:
        print("[demo     ] stopping every part", flush=True)
        stop_all(running)
        print("[demo     ] stopped", flush=True)


if __name__ == "__main__":
    main()

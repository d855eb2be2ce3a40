"""The real ingestion API as a separate process on 127.0.0.1, and readers of what it serves.

`start_api` is the plain launcher the `api` fixture and the golden build use; `launch_api`
adds extra arguments, a custom command, a pre-exec hook and captured stderr for the
operability, protection and fuzz tests.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.support import REPO_ROOT

WRITE_KEY = "wk_test_only"
APP_ID = "test_app"
WRITE_KEYS = f"{APP_ID}:{WRITE_KEY},other_app:wk_other"
"""The write keys of the `data_dir` fixture: the test app's and a second app's."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ApiProcess:
    url: str
    process: subprocess.Popen[bytes]
    data_dir: Path

    def post(self, body: object, key: str = WRITE_KEY) -> httpx.Response:
        return httpx.post(f"{self.url}/v1/events", json=body, headers={"X-Write-Key": key})

    def stop(self) -> None:
        """Graceful shutdown (SIGTERM): the API seals its open segment."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=20)


def start_api(data_dir: Path, extra_env: dict[str, str] | None = None) -> ApiProcess:
    port = free_port()
    env = dict(os.environ, MARQUEE_DATA_DIR=str(data_dir), MARQUEE_SEGMENT_MAX_AGE_S="0.5")
    env.update(extra_env or {})
    process = subprocess.Popen(
        [sys.executable, "-m", "ingestion_api", "--port", str(port), "--log-level", "warning"],
        cwd=REPO_ROOT,
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"API exited with {process.returncode}")
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return ApiProcess(url, process, data_dir)
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("API did not become ready in 30 s")


@dataclass
class LaunchedApi(ApiProcess):
    stderr_lines: list[str] = field(default_factory=list)

    def logs(self) -> list[str]:
        """Stderr lines so far (complete once the process has stopped)."""
        return list(self.stderr_lines)


def launch_api(
    data_dir: Path,
    env: dict[str, str] | None = None,
    *,
    args: Sequence[str] = ("--log-level", "warning"),
    command: Sequence[str] | None = None,
    preexec_fn: Callable[[], None] | None = None,
    ready_path: str = "/readyz",
) -> LaunchedApi:
    """Start the real API (or `command` with `{port}` filled in) and wait for `ready_path`.

    Stderr goes through a pipe (not a file, so a file-size limit does not apply to it)
    into `stderr_lines`.
    """
    port = free_port()
    full_env = dict(
        os.environ,
        MARQUEE_DATA_DIR=str(data_dir),
        MARQUEE_WRITE_KEYS=WRITE_KEYS,
        MARQUEE_SEGMENT_MAX_AGE_S="0.5",
    )
    full_env.update(env or {})
    if command is None:
        argv = [sys.executable, "-m", "ingestion_api", "--port", str(port), *args]
    else:
        argv = [part.format(port=port) for part in command]
    process = subprocess.Popen(
        argv, cwd=REPO_ROOT, env=full_env, stderr=subprocess.PIPE, preexec_fn=preexec_fn
    )
    url = f"http://127.0.0.1:{port}"
    api = LaunchedApi(url, process, data_dir)
    assert process.stderr is not None
    stream = process.stderr

    def collect() -> None:
        for raw in stream:
            api.stderr_lines.append(raw.decode("utf-8", "replace").rstrip("\n"))

    threading.Thread(target=collect, daemon=True).start()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            time.sleep(0.2)
            raise RuntimeError(f"API exited with {process.returncode}: {api.logs()[-5:]}")
        try:
            if httpx.get(f"{url}{ready_path}", timeout=1).status_code == 200:
                return api
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    process.kill()
    raise RuntimeError("API did not become ready in 30 s")


def stop(api: ApiProcess) -> None:
    """SIGTERM, then SIGKILL if the process has not exited within 20 s."""
    if api.process.poll() is None:
        api.process.send_signal(signal.SIGTERM)
        try:
            api.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            api.process.kill()
            api.process.wait()


def event(**overrides: object) -> dict[str, object]:
    """One valid `play_requested` event timed now, with `overrides` applied."""
    record: dict[str, object] = {
        "event_id": str(uuid.uuid4()),
        "type": "play_requested",
        "ts": int(time.time() * 1000),
        "viewer_id": "viewer-raw-id-42",
        "platform": "web",
        "creator_id": "cr_1",
        "content_id": "vod_1",
        "content_type": "vod",
        "session_id": "s_1",
    }
    record.update(overrides)
    return record


def scrape(api: ApiProcess) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of /metrics, keyed by (name, sorted labels)."""
    response = httpx.get(f"{api.url}/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples

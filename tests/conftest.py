"""Shared fixtures: a fresh data directory and the real API process on a free port."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from hypothesis import settings as hypothesis_settings

from marquee.settings import get_settings

REPO_ROOT = Path(__file__).resolve().parent.parent

# Property tests explore the same examples on every run, so CI verdicts are reproducible;
# a new search is a deliberate change of seed, not luck.
hypothesis_settings.register_profile("marquee", derandomize=True, database=None)
hypothesis_settings.load_profile("marquee")
WRITE_KEY = "wk_test_only"
APP_ID = "test_app"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh MARQUEE_DATA_DIR for this test, for this process and its children."""
    directory = tmp_path / "data"
    monkeypatch.setenv("MARQUEE_DATA_DIR", str(directory))
    monkeypatch.setenv("MARQUEE_WRITE_KEYS", f"{APP_ID}:{WRITE_KEY},other_app:wk_other")
    get_settings.cache_clear()
    yield directory
    get_settings.cache_clear()


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


@pytest.fixture
def api(data_dir: Path) -> Iterator[ApiProcess]:
    """The real ingestion API as a separate process on 127.0.0.1."""
    server = start_api(data_dir)
    try:
        yield server
    finally:
        server.stop()

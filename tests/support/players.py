"""Real players in headless chromium, and the real pipeline after them (issue 20 tests).

`stage` makes the served root (the pages and a fresh ffmpeg stream under one origin),
`start_players_api` the real API with that stream's content in its catalogue; `play`
opens one player page (players/*.html) in a fresh Debian chromium through
players/run.mjs and returns the page's ground truth; `run_command` runs a Marquee command
(pipeline, refresh) on a data directory; `read_views` reads the per-view mart.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
import httpx

from tests.support import REPO_ROOT
from tests.support.api import APP_ID, WRITE_KEY, ApiProcess, start_api
from tests.support.media import make_stream

PLAYERS_DIR = REPO_ROOT / "players"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
VIEW_COLUMNS = (
    "session_id", "view_state", "is_started", "startup_ms", "played_ms", "stalled_ms",
    "stall_count", "avg_bitrate_kbps", "is_completed", "is_failed", "platform",
)  # fmt: skip


def tools_missing() -> list[str]:
    """What `make players` installs and is not here."""
    missing = [tool for tool in ("node", "ffmpeg") if shutil.which(tool) is None]
    if not Path(CHROMIUM).exists():
        missing.append(CHROMIUM)
    if not (PLAYERS_DIR / "node_modules" / "playwright-core").is_dir():
        missing.append("players/node_modules (npm ci)")
    return missing


def play(url: str, timeout_s: int) -> dict[str, Any]:
    """One page in a fresh headless chromium until its truth is done: the truth."""
    done = subprocess.run(
        ["node", str(PLAYERS_DIR / "run.mjs"), url, str(timeout_s)],
        capture_output=True,
        text=True,
        timeout=timeout_s + 60,
        env=dict(os.environ, CHROMIUM=CHROMIUM),
    )
    assert done.returncode == 0, done.stderr[-3000:]
    truth: dict[str, Any] = json.loads(done.stdout)
    return truth


def run_command(*argv: str, data_dir: Path) -> str | None:
    """Run a Marquee command on the data directory; its output when it failed, else None."""
    env = dict(os.environ, MARQUEE_DATA_DIR=str(data_dir))
    done = subprocess.run(
        [sys.executable, *argv], cwd=REPO_ROOT, env=env, capture_output=True, text=True,
        timeout=600,
    )  # fmt: skip
    return None if done.returncode == 0 else done.stdout[-3000:] + done.stderr[-3000:]


def read_views(serving: Path) -> list[dict[str, Any]]:
    """Every row of the per-view mart, `playback_sessions`."""
    with duckdb.connect(str(serving), read_only=True) as conn:
        columns = ", ".join(VIEW_COLUMNS)
        rows = conn.execute(f"select {columns} from main.playback_sessions").fetchall()
    return [dict(zip(VIEW_COLUMNS, row, strict=True)) for row in rows]


def stage(base: Path, duration_s: int) -> Path:
    """The root a test serves: players/ and a stream of `duration_s` made into `base`."""
    root = base / "root"
    root.mkdir()
    (root / "players").symlink_to(PLAYERS_DIR)
    (root / "media").symlink_to(make_stream(base / "stream", duration_s))
    return root


def start_players_api(
    data_dir: Path, admin_token: str, content_id: str, duration_s: int
) -> ApiProcess:
    """The real API, with the played content (VOD, `duration_s`) in its catalogue."""
    env = {"MARQUEE_ADMIN_TOKEN": admin_token, "MARQUEE_WRITE_KEYS": f"{APP_ID}:{WRITE_KEY}"}
    api = start_api(data_dir, env)
    record = {
        "content_id": content_id,
        "creator_id": "cr_players",
        "content_type": "vod",
        "duration_ms": duration_s * 1000,
    }
    response = httpx.put(
        f"{api.url}/v1/catalog/content",
        json=[record],
        headers={"Authorization": f"Bearer {admin_token}"},
    )
    if response.status_code != 200:
        api.stop()
        raise AssertionError(response.text)
    return api

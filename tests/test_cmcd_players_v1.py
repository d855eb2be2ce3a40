"""Real players over the CDN-log path: CMCD v1 on segment requests, as a CDN sees it.

ExoPlayer/Media3 and AVPlayer send only CMCD v1, on their requests; their views reach
Marquee through the CDN's logs (`POST /v1/cmcd/cdn-log`, docs/cmcd-players.md). Here
dash.js and Shaka Player, unmodified from npm (players/package-lock.json) and configured
for CMCD v1 in query mode (players/*.html with `cmcd=v1`), each play the ffmpeg-made 24 s
stream (tests.support.media) to the end once, on a clean loopback link, in Debian's
headless chromium. The stream is served by a loopback "CDN" that records every request
carrying CMCD (time, CMCD query argument, User-Agent, path) and forwards its log lines to
the real API (tests.support.cdn_log). Then the real pipeline and refresh run, and each
playback's row of `playback_sessions` must show: exactly one view, started, and played
time within 5 % of the page's truth (players/truth.js). The measured table is printed.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.support.api import WRITE_KEY
from tests.support.cdn_log import RecordingCdn, forward
from tests.support.media import Throttle
from tests.support.players import (
    play,
    read_views,
    run_command,
    stage,
    start_players_api,
    tools_missing,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

ADMIN_TOKEN = "adm_test_only_players_v1"
CONTENT_ID = "vod_players_v1"
DURATION_S = 24
PLAY_TIMEOUT_S = 60
PLAYERS = {"dash.js": "dashjs.html", "Shaka": "shaka.html"}
THROTTLE = Throttle([(0.0, 6000), (2.0, 200), (20.0, 6000)])
"""The throttle of test_cmcd_players (a stall and a switch down), for a measurement only:
with MARQUEE_PLAYERS_V1_THROTTLED=1 each player also plays once throttled, its row is
printed and not checked (the CDN-log path's stalled time is an estimate)."""
THROTTLED = os.environ.get("MARQUEE_PLAYERS_V1_THROTTLED") == "1"


@dataclass
class Played:
    sid: str
    truth: dict[str, Any]
    forwarded: dict[str, Any]
    lines: list[dict[str, Any]]
    views: list[dict[str, Any]]


@pytest.fixture(scope="module")
def played(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Played]]:
    missing = tools_missing()
    if missing:
        pytest.fail(f"missing {', '.join(missing)}: run `make players`")
    base = tmp_path_factory.mktemp("players_v1")
    root = stage(base, DURATION_S)
    api = start_players_api(base / "data", ADMIN_TOKEN, CONTENT_ID, DURATION_S)
    results: dict[str, Played] = {}
    try:
        runs: list[tuple[str, str, Throttle | None]] = [
            (player, page, None) for player, page in PLAYERS.items()
        ]
        if THROTTLED:
            runs += [(f"{player}, throttled", page, THROTTLE) for player, page in PLAYERS.items()]
        for player, page, throttle in runs:
            sid = str(uuid.uuid4())
            with RecordingCdn(root, throttle) as cdn:
                query = httpx.QueryParams(
                    src=f"{cdn.url}/media/manifest.mpd", api=api.url, key=WRITE_KEY,
                    sid=sid, cid=CONTENT_ID, cmcd="v1",
                )  # fmt: skip
                truth = play(f"{cdn.url}/players/{page}?{query}", PLAY_TIMEOUT_S)
                lines = list(cdn.lines)
            forwarded = forward(api.url, WRITE_KEY, lines)
            results[player] = Played(sid, truth, forwarded, lines, [])
    finally:
        api.stop()
    (base / "played.json").write_text(
        json.dumps({name: {"sid": r.sid, "truth": r.truth, "lines": r.lines}
                    for name, r in results.items()}, indent=1)
    )  # fmt: skip
    failed = run_command("-m", "pipelines", "local", "--once", data_dir=api.data_dir)
    assert failed is None, failed
    refresh_failed = run_command("-m", "refresh", "--once", data_dir=api.data_dir)
    serving = api.data_dir / "warehouse" / "serving.duckdb"
    assert serving.exists(), refresh_failed
    views = read_views(serving)
    for result in results.values():
        result.views = [view for view in views if view["session_id"] == result.sid]
    print("\n" + measured_table(results))
    yield results


def _number(value: Any) -> str:
    return "null" if value is None else f"{round(value):,}".replace(",", " ")


def measured_table(results: dict[str, Played]) -> str:
    lines = [
        "| run | log lines (accepted) | startup ms (truth / Marquee) | played ms | played error "
        "| stalled ms | stalls | avg kbps | completed |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for player, result in results.items():
        truth = result.truth
        view = result.views[0] if len(result.views) == 1 else None

        def pair(key: str, column: str, view: Any = view, truth: dict[str, Any] = truth) -> str:
            return f"{_number(truth[key])} / {'-' if view is None else _number(view[column])}"

        error = "-"
        if view is not None and view["played_ms"] is not None and truth["played_ms"]:
            error = f"{100 * (view['played_ms'] - truth['played_ms']) / truth['played_ms']:+.2f} %"
        completed = "-" if view is None else ("yes" if view["is_completed"] else view["view_state"])
        lines.append(
            f"| {player} {truth.get('version', '')}, CMCD v1 via the CDN log "
            f"| {len(result.lines)} ({result.forwarded['accepted']}) "
            f"| {pair('startup_ms', 'startup_ms')} | {pair('played_ms', 'played_ms')} | {error} "
            f"| {pair('stalled_ms', 'stalled_ms')} | {pair('stall_count', 'stall_count')} "
            f"| {pair('avg_bitrate_kbps', 'avg_bitrate_kbps')} "
            f"| {'yes' if truth['ended'] else 'no'} / {completed} |"
        )
    return "\n".join(lines)


@pytest.mark.parametrize("player", list(PLAYERS))
def test_the_cdn_log_gives_one_started_view_with_its_played_time(
    played: dict[str, Played], player: str
) -> None:
    result = played[player]
    table = measured_table({player: result})
    assert result.truth["ended"], f"the player did not play to the end:\n{table}"
    assert result.lines and result.forwarded["rejected"] == [], result.forwarded
    assert len(result.views) == 1, table
    (view,) = result.views
    assert view["is_started"], table
    truth_ms = result.truth["played_ms"]
    assert abs(view["played_ms"] - truth_ms) <= 0.05 * truth_ms, table


def test_the_recording_cdn_sees_v1_on_the_segment_requests(played: dict[str, Played]) -> None:
    """The players were configured for v1: their segment requests carry `sid` and `d`,
    and no v2 key (`v=2`) and no event report reached the API."""
    for result in played.values():
        segments = [line for line in result.lines if str(line["url"]).endswith(".m4s")]
        assert segments, result.lines[:3]
        assert all("sid" in line.get("cmcd", "") for line in segments)
        assert not any("v%3D2" in line.get("cmcd", "") for line in result.lines)
        assert result.truth["reports"] == []

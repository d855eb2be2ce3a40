"""Real players, measured right over CMCD: dash.js, Shaka Player and hls.js (issue 20).

Each player, unmodified from npm at the version pinned in players/package-lock.json, plays
an ffmpeg-made 24 s stream (three H.264 renditions, HLS and DASH, tests.support.media) in
Debian's headless chromium, once on a clean loopback link and once on a throttled one
(a stall and a switch down). The page records the ground truth from the media element
(players/truth.js) while the player POSTs its CMCD v2 event-mode reports to the real API,
as its own documentation configures it (docs/cmcd-players.md). Then the real pipeline and
refresh run, and each playback's row of the `playback_sessions` mart is compared with the
page's truth:

- exactly one view, started, completed as the page saw it, the platform filled;
- startup within 100 ms; played time within 2 %; stalled time within 10 % or 250 ms;
  the stall count exact; the average bitrate within 10 %.

`make players` installs the players (npm ci), chromium and ffmpeg. The measured table is
printed and written to $MARQUEE_PLAYERS_TABLE when set.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.api import WRITE_KEY
from tests.support.media import MediaServer, Throttle
from tests.support.players import play as run_page
from tests.support.players import read_views, run_command, stage, start_players_api, tools_missing

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1200)]

ADMIN_TOKEN = "adm_test_only_players"
CONTENT_ID = "vod_players"
DURATION_S = 24
THROTTLE = Throttle([(0.0, 6000), (2.0, 200), (20.0, 6000)])
"""6 Mbit/s, then 200 kbit/s from 2 s to 20 s after the first segment request (below the
lowest rendition, 300): whatever a player buffered first, it runs dry before 20 s, so it
stalls and switches down; then 6 Mbit/s to the end."""


PLAY_TIMEOUT_S = 100
"""The stream lasts 24 s; a throttled run stalls for up to about 20 s more."""


@dataclass(frozen=True)
class Run:
    player: str
    page: str
    source: str
    throttled: bool

    @property
    def name(self) -> str:
        return f"{self.player}{', throttled' if self.throttled else ''}"


RUNS = [
    Run(player, page, source, throttled)
    for player, page, source in (
        ("dash.js", "dashjs.html", "manifest.mpd"),
        ("Shaka", "shaka.html", "manifest.mpd"),
        ("hls.js", "hlsjs.html", "master.m3u8"),
    )
    for throttled in (False, True)
]


@dataclass
class Played:
    run: Run
    sid: str
    truth: dict[str, Any]
    view: list[dict[str, Any]]


def play(run: Run, root: Path, api_url: str, sid: str) -> dict[str, Any]:
    """One playback in a fresh headless chromium: the page's truth and the reports sent."""
    with MediaServer(root, THROTTLE if run.throttled else None) as server:
        query = httpx.QueryParams(
            src=f"{server.url}/media/{run.source}",
            api=api_url,
            key=WRITE_KEY,
            sid=sid,
            cid=CONTENT_ID,
        )
        return run_page(f"{server.url}/players/{run.page}?{query}", PLAY_TIMEOUT_S)


@pytest.fixture(scope="module")
def played(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Played]]:
    missing = tools_missing()
    if missing:
        pytest.fail(f"missing {', '.join(missing)}: run `make players`")
    base = tmp_path_factory.mktemp("players")
    root = stage(base, DURATION_S)
    api = start_players_api(base / "data", ADMIN_TOKEN, CONTENT_ID, DURATION_S)
    results: dict[str, Played] = {}
    try:
        for run in RUNS:
            sid = str(uuid.uuid4())
            results[run.name] = Played(run, sid, play(run, root, api.url, sid), [])
    finally:
        api.stop()
    (base / "truths.json").write_text(
        json.dumps({name: {"sid": r.sid, **r.truth} for name, r in results.items()}, indent=1)
    )

    failed = run_command("-m", "pipelines", "local", "--once", data_dir=api.data_dir)
    assert failed is None, failed
    refresh_failed = run_command("-m", "refresh", "--once", data_dir=api.data_dir)
    serving = api.data_dir / "warehouse" / "serving.duckdb"
    assert serving.exists(), refresh_failed
    views = read_views(serving)
    for result in results.values():
        result.view = [view for view in views if view["session_id"] == result.sid]
    table = measured_table(list(results.values()))
    print("\n" + table)
    if os.environ.get("MARQUEE_PLAYERS_TABLE"):
        Path(os.environ["MARQUEE_PLAYERS_TABLE"]).write_text(table + "\n")
    assert refresh_failed is None, refresh_failed
    yield results


def near(measured: Any, expected: Any, relative: float, absolute: float = 0.0) -> bool:
    if measured is None or expected is None:
        return measured is None and expected is None
    return bool(abs(measured - expected) <= max(relative * expected, absolute))


def checks(truth: dict[str, Any], views: list[dict[str, Any]]) -> dict[str, bool]:
    """Each check of the issue's list: True when Marquee's view agrees with the page."""
    if len(views) != 1:
        return {"one view": False}
    view = views[0]
    return {
        "one view": True,
        "started": bool(view["is_started"]),
        "startup": near(view["startup_ms"], truth["startup_ms"], 0, 100),
        "played": near(view["played_ms"], truth["played_ms"], 0.02),
        "stalled": near(view["stalled_ms"], truth["stalled_ms"], 0.10, 250),
        "stall count": view["stall_count"] == truth["stall_count"],
        "bitrate": near(view["avg_bitrate_kbps"], truth["avg_bitrate_kbps"], 0.10),
        "completed": bool(view["is_completed"]) == bool(truth["ended"]),
        "platform": view["platform"] not in (None, "other"),
    }


def _number(value: Any) -> str:
    return "null" if value is None else f"{round(value):,}".replace(",", " ")


def measured_table(results: list[Played]) -> str:
    lines = [
        "| run | startup ms (truth / Marquee) | played ms | stalled ms | stalls "
        "| avg kbps | completed | platform | failing checks |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for result in results:
        truth = result.truth
        view = result.view[0] if len(result.view) == 1 else None
        state = "-" if view is None else ("yes" if view["is_completed"] else view["view_state"])

        def pair(key: str, column: str, truth: dict[str, Any] = truth, view: Any = view) -> str:
            theirs = "-" if view is None else _number(view[column])
            return f"{_number(truth[key])} / {theirs}"

        failing = [name for name, ok in checks(truth, result.view).items() if not ok]
        lines.append(
            f"| {result.run.name} {truth.get('version', '')} "
            f"| {pair('startup_ms', 'startup_ms')} | {pair('played_ms', 'played_ms')} "
            f"| {pair('stalled_ms', 'stalled_ms')} | {pair('stall_count', 'stall_count')} "
            f"| {pair('avg_bitrate_kbps', 'avg_bitrate_kbps')} "
            f"| {'yes' if truth['ended'] else 'no'} / {state} "
            f"| {'-' if view is None else view['platform']} "
            f"| {', '.join(failing) or 'none'} (views: {len(result.view)}) |"
        )
    return "\n".join(lines)


ENDED = "played to the end"
"""Not a check of Marquee: the player itself reached `ended` (the page's truth is whole)."""
KNOWN_GAPS: dict[str, tuple[frozenset[str], str]] = {
    "dash.js": (
        frozenset({"bitrate"}),
        "dash.js 5.2.1 sends br only on play-state reports and no bc event: a switch "
        "during playback never reaches Marquee",
    ),
    "dash.js, throttled": (
        frozenset({"bitrate", ENDED}),
        "dash.js 5.2.1 sends br only on play-state reports and no bc event; on some "
        "throttles it never reaches `ended` once it switched down (its GapController jumps "
        "the last tenth of a second every 2 s, or a decode error on the switch stops it)",
    ),
    "hls.js": (
        frozenset({"bitrate"}),
        "hls.js 1.7.4 sends as br the level being loaded; Marquee shows it once the buffer "
        "ahead (bl) has played, which brought the clean run within 10 % (2,502 credited for "
        "2,319 on screen) but not yet reliably",
    ),
    "hls.js, throttled": (
        frozenset({"bitrate"}),
        "hls.js 1.7.4 sends as br the level being loaded: throttled, its switches still "
        "reach Marquee's screen timeline late (926 credited for 665 on screen in one run)",
    ),
    "Shaka, throttled": (
        frozenset({"stalled", "stall count", "bitrate"}),
        "the compiled shaka-player 5.2.12 bundle sends no sta at all (Closure renames the "
        "key), so a stall cannot be told from playing; its br is the variant being loaded",
    ),
}
"""Checks a run fails for a reason outside Marquee (docs/cmcd-players.md, Limits). Such a
run is reported as xfail with its failing checks; any other check must pass."""

STARTS_AT_PLAY_EVENT = frozenset({"dash.js", "hls.js"})
"""Players that send no plausible `msd` and enter `sta=s` at the media element's `play`
event, which Chromium fires a task after the page's play call (16-188 ms here, more on a
loaded machine). Their startup by timing cannot see that wait: a startup short of the
page's is a known gap only when it is within 100 ms of the page's first frame less its
`play` event."""


@pytest.mark.parametrize("run", RUNS, ids=[run.name for run in RUNS])
def test_marquee_measures_the_playback_as_the_page_saw_it(
    played: dict[str, Played], run: Run
) -> None:
    result = played[run.name]
    gaps, why = KNOWN_GAPS.get(run.name, (frozenset(), ""))
    table = measured_table([result])
    if not result.truth["ended"]:
        assert ENDED in gaps, f"the player did not play to the end:\n{table}"
        pytest.xfail(f"known gap (the player did not play to the end): {why}")
    if run.throttled:
        renditions = {step["kbps"] for step in result.truth["renditions"]}
        assert result.truth["stall_count"] >= 1 and len(renditions) >= 2, (
            f"the throttle must drive a stall and a switch:\n{table}"
        )
    failing = [name for name, ok in checks(result.truth, result.view).items() if not ok]
    if "startup" in failing and run.player in STARTS_AT_PLAY_EVENT:
        truth = result.truth
        from_play_event = truth["startup_ms"] - truth["play_event_ms"]
        assert near(result.view[0]["startup_ms"], from_play_event, 0, 100), (
            f"{run.name}: startup is off by more than the page's wait for the play event "
            f"({round(truth['play_event_ms'])} ms):\n{table}"
        )
        gaps = gaps | {"startup"}
        late = f"{run.player} starts at the play event, {round(truth['play_event_ms'])} ms late"
        why = "; ".join(filter(None, [why, late]))
    unexpected = [name for name in failing if name not in gaps]
    assert not unexpected, f"{run.name}: {unexpected}\n{table}"
    if failing:
        pytest.xfail(f"known gap ({', '.join(failing)}): {why}")

"""Story trays for many viewers at once (`tools.simulator.stories.watch_tray` as arrays).

Each tray arrival goes through the creator's unexpired stories in order: `story_viewed`,
a short autoplaying playback session (startup halved: stories are preloaded), then
`story_completed` or a `story_navigated` tap. Outcomes per story have the simulator's
shares (62 % watch to the end, 23 % tap forward, 8 % tap out, 4 % swipe away, 3 % tap
back); a tap out, a swipe or a session that never ends closes the tray. A story's session
does not depend on when it starts, so every story view of every tray is played from time
0, and the trays' running sums of session lengths then place them in time. A tap back is
reported but the viewer moves on instead of seeing the previous story again.
"""

from __future__ import annotations

import numpy as np

from tools.simulator.stories import (
    MAX_STORIES_PER_TRAY,
    REACT_PROB,
    REPEAT_REACTION_PROB,
)
from tools.simulator.vector.engagement import reactions
from tools.simulator.vector.pieces import Pieces, randint, segment_cumsum
from tools.simulator.vector.playback import Views, play_views
from tools.simulator.vector.population import STORY, Titles, Viewers

_ACTIONS = np.array(["", "tap_forward", "tap_exit", "swipe_forward", "tap_back"], dtype=object)
_CUTS = np.array([0.62, 0.85, 0.93, 0.97])


def watch_trays(
    rng: np.random.Generator,
    pieces: Pieces,
    t0: np.ndarray,
    viewer: np.ndarray,
    story_titles: np.ndarray,
    first_story: np.ndarray,
    stories: np.ndarray,
    titles: Titles,
    audience: Viewers,
    session0: int,
) -> int:
    """Plan the trays: tray j shows `story_titles[first_story[j] + i]` for i < `stories[j]`
    (a creator's stories, oldest first); returns the number of sessions used."""
    length = np.minimum(stories, MAX_STORIES_PER_TRAY)
    tray = np.repeat(np.arange(len(t0)), length)
    position = np.arange(len(tray)) - np.repeat(np.cumsum(length) - length, length)
    title = story_titles[first_story[tray] + position]
    action = np.searchsorted(_CUTS, rng.random(len(tray)), side="right")
    action = np.where((action == 4) & (position == 0), 1, action)
    # A planned tap out or swipe ends the tray: later stories are never reached.
    stop = (action == 2) | (action == 3)
    new_tray = position == 0
    stops_before = segment_cumsum(stop.astype(np.int64), new_tray) - stop
    reached = stops_before == 0
    tray, position, title, action = (
        tray[reached],
        position[reached],
        title[reached],
        action[reached],
    )
    n = len(tray)
    duration = titles.duration_ms[title]
    watch = np.where(action == 0, duration, randint(rng, 300, duration - 300))
    since = len(pieces)
    zeros = np.zeros(n, dtype=np.int64)
    outcome = play_views(
        rng,
        pieces,
        Views(
            t0=zeros,
            viewer=viewer[tray],
            title=title,
            content_type=np.full(n, STORY),
            duration_ms=duration,
            watch_ms=watch,
            exit_reason=np.where((action == 1) | (action == 4), "replaced", "user_exit").astype(
                object
            ),
            autoplay=np.ones(n, dtype=bool),
            preroll=np.zeros(n, dtype=bool),
            midrolls=np.zeros(n, dtype=bool),
            interactive=np.zeros(n, dtype=bool),
            live_start_ms=zeros,
            live_end_ms=zeros,
        ),
        audience,
        session0,
    )
    final = np.where(
        outcome.completed, -1, np.where(action == 0, np.where(outcome.started, 2, 1), action)
    )
    closes = ~outcome.ended | (final == 2) | (final == 3)
    new_tray = position == 0
    closed_before = segment_cumsum(closes.astype(np.int64), new_tray) - closes
    shown = closed_before == 0
    gap = randint(rng, 100, 400, n)
    step = outcome.end_ms + gap
    start = t0[tray] + segment_cumsum(step, new_tray) - step
    start = np.where(shown, start, -(10**15))  # sessions of unseen stories sink below zero
    pieces.shift(since, session0, start)
    v = np.flatnonzero(shown)
    who = viewer[tray]
    pieces.add(
        "story_viewed",
        start[v],
        who[v],
        title[v],
        order=-1,
        story_id=titles.content_id[title[v]],
        story_position=position[v],
    )
    end = start + outcome.end_ms
    done = np.flatnonzero(shown & outcome.ended & outcome.completed)
    pieces.add("story_completed", end[done], who[done], title[done], order=10)
    nav = np.flatnonzero(shown & outcome.ended & ~outcome.completed)
    pieces.add(
        "story_navigated", end[nav], who[nav], title[nav], order=10, action=_ACTIONS[final[nav]]
    )
    play_start = start + outcome.play_start_ms
    r = np.flatnonzero(shown & outcome.ended & outcome.started & (rng.random(n) < REACT_PROB))
    at = randint(rng, play_start[r], np.maximum(play_start[r], end[r]))
    code = reactions(rng, pieces, at, who[r], title[r], titles)
    again = rng.random(len(r)) < REPEAT_REACTION_PROB
    a = np.flatnonzero(again)
    reactions(rng, pieces, at[a] + randint(rng, 800, 4_000, len(a)), who[r][a], title[r][a],
              titles, code[a])  # fmt: skip
    return n

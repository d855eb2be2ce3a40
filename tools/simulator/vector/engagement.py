"""Engagement around many views at once (`tools.simulator.engagement` as arrays).

Live viewers chat (Poisson at their habit's rate, at most 300 messages) and react; viewers
of VOD and clips react now and then; some share, follow (more after a view that held them)
or tip (tippers mostly, mostly during live). The simulator also keeps who follows whom so
that an unfollow always follows a follow; here an unfollow is drawn at a small rate with no
such memory, so a creator's net followers can dip below what the log's follows explain.
"""

from __future__ import annotations

import numpy as np

from tools.simulator.clock import MINUTE_MS
from tools.simulator.engagement import REACTIONS, SHARE_CHANNELS
from tools.simulator.vector.pieces import Pieces, randint
from tools.simulator.vector.playback import Outcome
from tools.simulator.vector.population import CLIP, CONTENT_TYPES, LIVE, Titles, Viewers

_REACTIONS = np.array(REACTIONS, dtype=object)
_CHANNELS = np.array(SHARE_CHANNELS, dtype=object)
_TYPES = np.array(CONTENT_TYPES, dtype=object)


def reactions(
    rng: np.random.Generator,
    pieces: Pieces,
    at: np.ndarray,
    viewer: np.ndarray,
    title: np.ndarray,
    titles: Titles,
    code: np.ndarray | None = None,
    order: int = 0,
) -> np.ndarray:
    """`engagement.react` for many: reaction_added events; returns the reaction codes."""
    if code is None:
        code = _REACTIONS[rng.integers(0, len(_REACTIONS), len(at))]
    pieces.add(
        "reaction_added",
        at,
        viewer,
        title,
        order=order,
        target_id=titles.content_id[title],
        target_type=_TYPES[titles.content_type[title]],
        reaction=code,
    )
    return code


def _poisson_times(
    rng: np.random.Generator, per_min: np.ndarray, start: np.ndarray, end: np.ndarray, cap: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per view, uniform times in [start, end) of a Poisson count at `per_min` (capped)."""
    count = np.minimum(rng.poisson(per_min * np.maximum(0, end - start) / MINUTE_MS), cap)
    who = np.repeat(np.arange(len(start)), count)
    at = start[who] + (rng.random(len(who)) * (end[who] - start[who])).astype(np.int64)
    return who, at


def around_views(
    rng: np.random.Generator,
    pieces: Pieces,
    viewer: np.ndarray,
    title: np.ndarray,
    outcome: Outcome,
    titles: Titles,
    audience: Viewers,
) -> None:
    """`engagement.around_view` for views that started (VOD, clips and live streams)."""
    s = np.flatnonzero(outcome.started & (outcome.end_ms > outcome.play_start_ms))
    viewer, title = viewer[s], title[s]
    start, end = outcome.play_start_ms[s], outcome.end_ms[s]
    completed = outcome.completed[s]
    kind = titles.content_type[title]
    live = kind == LIVE
    chat = audience.chat_per_min[viewer]
    lv = np.flatnonzero(live)
    who, at = _poisson_times(rng, chat[lv], start[lv], end[lv], 300)
    w = lv[who]
    length = np.minimum(500, rng.lognormal(3.3, 0.7, len(w)).astype(np.int64) + 1)
    pieces.add(
        "chat_message",
        at,
        viewer[w],
        title[w],
        live_id=titles.content_id[title[w]],
        length=length,
    )
    who, at = _poisson_times(rng, 0.12 + chat[lv] / 4, start[lv], end[lv], 100)
    reactions(rng, pieces, at, viewer[lv[who]], title[lv[who]], titles)
    n = len(s)
    reacts = ~live & (rng.random(n) < np.where(kind == CLIP, 0.10, 0.05))
    r = np.flatnonzero(reacts)
    reactions(rng, pieces, randint(rng, start[r], end[r]), viewer[r], title[r], titles)
    shares = rng.random(n) < 0.012 + np.where(completed, 0.02, 0.0)
    sh = np.flatnonzero(shares)
    pieces.add(
        "share",
        randint(rng, start[sh], end[sh]),
        viewer[sh],
        title[sh],
        channel=_CHANNELS[rng.integers(0, len(_CHANNELS), len(sh))],
    )
    liked = completed | (live & (outcome.played_ms[s] > 10 * MINUTE_MS))
    follows = rng.random(n) < 0.008 + np.where(liked, 0.03, 0.0)
    f = np.flatnonzero(follows)
    pieces.add("follow", randint(rng, start[f], end[f]), viewer[f], title[f])
    unfollows = ~follows & (rng.random(n) < 0.0005)
    u = np.flatnonzero(unfollows)
    pieces.add("unfollow", end[u], viewer[u], title[u])
    tipper = audience.tipper[viewer]
    chance = np.where(live, np.where(tipper, 0.15, 0.004), np.where(tipper, 0.01, 0.0))
    t = np.flatnonzero(rng.random(n) < chance)
    choice = rng.integers(0, audience.tip_amount.shape[1], len(t))
    pieces.add(
        "tip",
        randint(rng, start[t], end[t]),
        viewer[t],
        title[t],
        amount_minor=audience.tip_amount[viewer[t], choice],
        currency=audience.currency[viewer[t]],
    )

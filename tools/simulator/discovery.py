"""Where a play comes from: the surface of `play_requested` and the impressions before it.

A viewer who plays a title found it on a surface (EVENTS.md `surface`): a clip mostly in the
feed, a VOD as often from search or the creator's profile, a live stream from the tray of
live avatars. Before the click, the title's thumbnail was on screen a number of times: a
geometric count with mean 1 / CTR of the surface, each a `content_impression` with its
`list_position`, so that views / impressions per surface comes out near the surface's CTR
(YouTube reports 2-10 % for impressions CTR; a search result or a live tray avatar is
clicked far more often than a feed thumbnail scrolled past). A few plays name no surface
(older app versions): they count in no CTR. Stories are left out (their tray is their own).
"""

from __future__ import annotations

import random

from tools.simulator.emit import Emitter

SURFACE_WEIGHTS: dict[str, tuple[tuple[str, float], ...]] = {
    "clip": (("feed", 0.7), ("profile", 0.1), ("search", 0.05), ("share", 0.1), ("other", 0.05)),
    "vod": (("feed", 0.35), ("search", 0.25), ("profile", 0.25), ("share", 0.1), ("other", 0.05)),
    "live": (("tray", 0.45), ("feed", 0.3), ("profile", 0.1), ("share", 0.1), ("other", 0.05)),
}
"""Per content type, where its plays come from (weights sum to 1)."""

SURFACE_CTR: dict[str, float] = {
    "feed": 0.15,
    "profile": 0.25,
    "search": 0.35,
    "tray": 0.45,
    "share": 0.75,
    "other": 0.2,
}
"""The click-through rate each surface's impressions give."""

NO_SURFACE = 0.05
"""The share of plays whose `play_requested` names no surface."""

MAX_IMPRESSIONS = 60
"""At most this many impressions before one play (the geometric tail is cut)."""


def pick_surface(rng: random.Random, content_type: str) -> str | None:
    """The surface a play of this content type comes from, or None (no surface sent)."""
    weights = SURFACE_WEIGHTS.get(content_type)
    if weights is None or rng.random() < NO_SURFACE:
        return None
    roll = rng.random()
    for surface, weight in weights:
        roll -= weight
        if roll < 0:
            return surface
    return weights[-1][0]


def impression_count(rng: random.Random, surface: str) -> int:
    """Impressions before a play from the surface (the clicked one included): geometric."""
    ctr = SURFACE_CTR[surface]
    count = 1
    while count < MAX_IMPRESSIONS and rng.random() >= ctr:
        count += 1
    return count


def impressions_then_play(em: Emitter, rng: random.Random, surface: str, t: int) -> int:
    """The title's impressions on the surface from t on (a feed scrolled past it a few
    times, seconds apart), and the time of the play they end with: a moment after the
    last. Planned forward from the arrival: the engine drops events before its window."""
    for _ in range(impression_count(rng, surface)):
        em.engagement("content_impression", t, surface=surface, list_position=rng.randint(0, 30))
        t += rng.randint(1_000, 12_000)
    return t - rng.randint(0, 1_500)

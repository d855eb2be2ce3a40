"""`tools.simulator.discovery` as columns: each play's surface and the impressions before it.

Per play of a VOD, clip or live stream: a surface drawn from the content type's weights (or
none, for a few), then a geometric number of `content_impression` events on it (mean 1 /
the surface's CTR, at most `MAX_IMPRESSIONS`) seconds apart from the arrival on, and the
play a moment after the last: the same model as the scalar simulator, so views / impressions
per surface comes out near `SURFACE_CTR`.
"""

from __future__ import annotations

import numpy as np

from tools.simulator.discovery import MAX_IMPRESSIONS, NO_SURFACE, SURFACE_CTR, SURFACE_WEIGHTS
from tools.simulator.vector.pieces import Pieces, randint, segment_cumsum
from tools.simulator.vector.population import CLIP, LIVE, VOD

_KINDS = ((VOD, "vod"), (CLIP, "clip"), (LIVE, "live"))


def plan_discovery(
    rng: np.random.Generator,
    pieces: Pieces,
    t0: np.ndarray,
    viewer: np.ndarray,
    title: np.ndarray,
    kind: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Add the impressions before each play -> (each play's surface, None for none; the
    time of each play, after its impressions)."""
    n = len(t0)
    surface = np.full(n, None, dtype=object)
    for code, name in _KINDS:
        plays = np.flatnonzero(kind == code)
        names = np.array([s for s, _ in SURFACE_WEIGHTS[name]], dtype=object)
        weights = np.array([w for _, w in SURFACE_WEIGHTS[name]])
        surface[plays] = names[rng.choice(len(names), size=len(plays), p=weights / weights.sum())]
    surface[rng.random(n) < NO_SURFACE] = None
    named = np.flatnonzero(surface != None)  # noqa: E711 (elementwise on an object array)
    if len(named) == 0:
        return surface, t0
    ctr = np.array([SURFACE_CTR[s] for s in surface[named]])
    count = np.minimum(rng.geometric(ctr), MAX_IMPRESSIONS)
    rows = np.repeat(named, count)
    gaps = randint(rng, 1_000, 12_000, len(rows))
    first = np.zeros(len(rows), dtype=bool)
    first[np.concatenate(([0], np.cumsum(count)[:-1]))] = True
    before = segment_cumsum(gaps, first) - gaps
    pieces.add(
        "content_impression",
        t0[rows] + before,
        viewer[rows],
        title[rows],
        surface=surface[rows],
        list_position=randint(rng, 0, 30, len(rows)),
    )
    play_at = t0.copy()
    last = np.cumsum(count) - 1
    play_at[named] = t0[named] + before[last] + gaps[last] - randint(rng, 0, 1_500, len(named))
    return surface, play_at

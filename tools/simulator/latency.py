"""Live latency: how far behind the live edge a viewer plays, worse when the stream is busy.

A viewer of a live stream settles at a latency of its own (player, CDN edge and network:
lognormal around `LATENCY_MEDIAN_MS`, a low-latency HLS figure). On top of it the stream's
load: the audience curve that draws viewers to the stream (`model.live_ramp`, the relative
number of concurrent viewers) stretches it by up to `LOAD_GAIN` at the peak, as origin and
edge queues grow; each heartbeat then varies by a few percent. The vectorised history
engine does the same on arrays (`tools.simulator.vector.latency`), so the demo's live latency
rises mid-stream and falls as the viewers leave, whichever engine made the traffic.
"""

from __future__ import annotations

import math
import random

from marquee.events import MAX_LIVE_LATENCY_MS
from tools.simulator.model import live_ramp

LATENCY_MEDIAN_MS = 3_500
LATENCY_SIGMA = 0.35
LOAD_GAIN = 1.2
"""At the audience peak a viewer's latency is (1 + LOAD_GAIN) times its quiet level."""
JITTER = (0.9, 1.15)
"""Heartbeat-to-heartbeat variation, a uniform factor."""


def viewer_base_ms(rng: random.Random) -> float:
    """A live viewer's own latency when the stream is quiet."""
    return LATENCY_MEDIAN_MS * math.exp(rng.gauss(0.0, LATENCY_SIGMA))


def stream_progress(t_ms: int, start_ms: int, end_ms: int) -> float:
    """Where `t_ms` falls in the stream, 0 at its start and 1 at its end."""
    return min(1.0, max(0.0, (t_ms - start_ms) / max(1, end_ms - start_ms)))


def latency_ms(base_ms: float, progress: float, jitter: float) -> int:
    """A heartbeat's latency: the viewer's base, stretched by the stream's load at
    `progress`, times `jitter`; within the contract's bound."""
    value = base_ms * (1.0 + LOAD_GAIN * live_ramp(progress)) * jitter
    return min(MAX_LIVE_LATENCY_MS, max(0, int(value)))

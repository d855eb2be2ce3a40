"""The simulator's live latency: on live heartbeats only, and worse when the stream is busy.

Both engines make it: the scalar simulator (`tools.simulator.latency`) over two hours of
two on-air live streams, and the vectorised history engine's arrays
(`tools.simulator.vector.latency`), which must follow the same curve.
"""

from __future__ import annotations

import random
import statistics
import time
from collections import defaultdict
from datetime import datetime

import numpy as np
import pytest

from marquee.events import MAX_LIVE_LATENCY_MS
from tools.simulator import INVALID_MARKER, Simulator
from tools.simulator import latency as scalar_latency
from tools.simulator.latency import stream_progress
from tools.simulator.model import live_ramp
from tools.simulator.vector import latency as vector_latency

pytestmark = pytest.mark.unit

HOUR_MS = 3_600_000
MINUTE_MS = 60_000


def _epoch_ms(ts: int | str) -> int:
    """An event's `ts` (epoch ms or RFC 3339, as the simulator sends both) in epoch ms."""
    if isinstance(ts, int):
        return ts
    return int(datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp() * 1000)


def test_live_heartbeats_carry_a_latency_that_rises_with_the_audience() -> None:
    start = int(time.time() * 1000) // HOUR_MS * HOUR_MS - 6 * HOUR_MS
    sim = Simulator(seed=7, creators=30, rate=20.0, on_air_at_ms=start, on_air_lives=2)
    events = [e for e in sim.events_between(start, start + 2 * HOUR_MS) if INVALID_MARKER not in e]
    beats = [e for e in events if e["type"] == "heartbeat"]
    live = [e for e in beats if e["content_type"] == "live"]
    assert live and all(0 <= e["live_latency_ms"] <= MAX_LIVE_LATENCY_MS for e in live)
    carrying = [e for e in events if "live_latency_ms" in e]
    assert len(carrying) == len(live), "only live heartbeats carry it (invalid ones aside)"
    # A stream's load follows its audience curve (`live_ramp` of its progress), so heartbeats
    # sent near its peak lag more than those sent while it is quiet (its start or its end).
    # Which part of which stream (on-air or scheduled) the two hours catch depends on the
    # hour the test runs at, so heartbeats are split by their stream's load, not by clock time.
    streams = {
        stream.content_id: stream
        for minute in range(start, start + 2 * HOUR_MS, MINUTE_MS)
        for stream in sim.world.lives_on_air(minute)[0]
    }
    by_load: dict[str, list[int]] = defaultdict(list)
    for event in live:
        stream = streams.get(event["content_id"])
        if stream is None or stream.ends_at_ms is None:
            continue  # a client clock running behind: a stream that ended before `start`
        progress = stream_progress(
            _epoch_ms(event["ts"]), stream.published_at_ms, stream.ends_at_ms
        )
        load = live_ramp(progress)
        if load < 0.5:
            by_load["quiet"].append(event["live_latency_ms"])
        elif load > 0.9:
            by_load["busy"].append(event["live_latency_ms"])
    assert len(by_load["quiet"]) > 500 and len(by_load["busy"]) > 500, by_load.keys()
    assert statistics.median(by_load["busy"]) > 1.15 * statistics.median(by_load["quiet"])


def test_the_vector_engine_follows_the_same_curve() -> None:
    rng = np.random.default_rng(3)
    n = 20_000
    start, end = np.zeros(n, dtype=np.int64), np.full(n, 4 * HOUR_MS, dtype=np.int64)
    base = vector_latency.viewer_base_ms(rng, n)
    for progress in (0.0, 0.25, 0.5, 0.9):
        t = np.full(n, int(progress * 4 * HOUR_MS), dtype=np.int64)
        arrays = vector_latency.latency_ms(rng, base, t, start, end)
        scalar_rng = random.Random(5)
        scalar = [
            scalar_latency.latency_ms(
                scalar_latency.viewer_base_ms(scalar_rng),
                progress,
                scalar_rng.uniform(*scalar_latency.JITTER),
            )
            for _ in range(n)
        ]
        assert np.median(arrays) == pytest.approx(statistics.median(scalar), rel=0.03)
    quiet = vector_latency.latency_ms(rng, base, np.zeros(n, np.int64), start, end)
    peak = vector_latency.latency_ms(rng, base, np.full(n, 2 * HOUR_MS), start, end)
    assert np.median(peak) > 1.8 * np.median(quiet)

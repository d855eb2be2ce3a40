"""`tools.simulator.latency` on arrays: live heartbeats' latencies for the vector engine."""

from __future__ import annotations

import numpy as np

from marquee.events import MAX_LIVE_LATENCY_MS
from tools.simulator.latency import JITTER, LATENCY_MEDIAN_MS, LATENCY_SIGMA, LOAD_GAIN


def viewer_base_ms(rng: np.random.Generator, n: int) -> np.ndarray:
    """`latency.viewer_base_ms` for `n` live views."""
    return LATENCY_MEDIAN_MS * np.exp(rng.normal(0.0, LATENCY_SIGMA, n))


def live_ramp(progress: np.ndarray) -> np.ndarray:
    """`model.live_ramp` on arrays (0 outside [0, 1])."""
    inside = (progress >= 0.0) & (progress <= 1.0)
    ramp = 0.15 + 0.85 * np.sin(np.pi * np.clip(progress, 0.0, 1.0)) ** 1.5
    return np.where(inside, ramp, 0.0)


def latency_ms(
    rng: np.random.Generator,
    base_ms: np.ndarray,
    t_ms: np.ndarray,
    start_ms: np.ndarray,
    end_ms: np.ndarray,
) -> np.ndarray:
    """`latency.latency_ms` of heartbeats at `t_ms` of streams [start, end), with a jitter
    drawn per heartbeat."""
    progress = np.clip((t_ms - start_ms) / np.maximum(1, end_ms - start_ms), 0.0, 1.0)
    jitter = rng.uniform(JITTER[0], JITTER[1], len(t_ms))
    value = base_ms * (1.0 + LOAD_GAIN * live_ramp(progress)) * jitter
    return np.clip(value, 0, MAX_LIVE_LATENCY_MS).astype(np.int64)

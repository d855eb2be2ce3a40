"""Ad breaks inside a playback session, tracked the way VAST players report them.

A break (pre-roll before the content's first frame, mid-roll inside it) holds one to three
ads. Each ad sends an impression when it starts and the quartile events as it plays
(firstQuartile, midpoint, thirdQuartile, complete in VAST terms); ads longer than 6 s may be
skipped after 5 s, a few viewers click, and a few give up on the whole view during an ad.
Those choices are what the ad metrics (quartile reach, completion, skip rate, CTR) measure.
Each creative has one format (`ad_format`): most are linear, some squeezeback or overlay,
so every ad metric has a breakdown by format to show.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from tools.simulator.emit import Emitter

AD_DURATIONS_MS = (6_000, 15_000, 15_000, 20_000, 30_000)
SKIPPABLE_AFTER_MS = 5_000
SKIP_PROB = 0.3
CLICK_PROB = 0.015
ABANDON_PROB = 0.02
"""Chance per ad that the viewer leaves the whole view while it plays."""
AD_FORMAT_CYCLE = ("linear",) * 7 + ("squeezeback",) * 2 + ("overlay",)
"""A creative's format by its number modulo 10: 70 % linear, 20 % squeezeback, 10 % overlay."""


def ad_format(creative: int) -> str:
    """The format of creative `creative` (fixed per creative, drawing nothing at random)."""
    return AD_FORMAT_CYCLE[creative % len(AD_FORMAT_CYCLE)]


@dataclass(frozen=True, slots=True)
class BreakResult:
    end_ms: int
    abandoned: bool


def play_ad_break(em: Emitter, rng: random.Random, t_ms: int, position: str) -> BreakResult:
    """Plan one ad break starting at `t_ms`; returns when content resumes (or was abandoned)."""
    break_id = f"ab_{rng.getrandbits(48):012x}"
    n_ads = rng.choice((1, 1, 2)) if position == "pre" else rng.choice((1, 2, 2, 3))
    timeline: list[tuple[int, str, dict[str, Any]]] = []
    break_fields = {"ad_break_id": break_id, "position": position}
    timeline.append((t_ms, "ad_break_started", break_fields))
    t = t_ms + rng.randint(100, 600)
    abandoned = False
    for creative in rng.sample(range(1, 300), n_ads):  # an ad pod never repeats a creative
        duration = rng.choice(AD_DURATIONS_MS)
        fields = {
            "ad_id": f"ad_{creative:04d}",
            "ad_break_id": break_id,
            "position": position,
            "ad_duration_ms": duration,
            "ad_format": ad_format(creative),
        }
        timeline.append((t, "ad_impression", fields))
        roll = rng.random()
        skipped = False
        if roll < ABANDON_PROB:
            watched = rng.randint(300, duration - 100)
            abandoned = True
        elif duration > SKIPPABLE_AFTER_MS + 1_000 and roll < ABANDON_PROB + SKIP_PROB:
            watched = rng.randint(SKIPPABLE_AFTER_MS, duration - 500)
            skipped = True
        else:
            watched = duration
        for quartile in (25, 50, 75, 100):
            at = t + duration * quartile // 100
            if at <= t + watched:
                timeline.append((at, "ad_quartile", {**fields, "quartile": quartile}))
        if skipped:
            timeline.append((t + watched, "ad_skipped", fields))
        if rng.random() < CLICK_PROB:
            timeline.append((t + rng.randint(200, watched), "ad_clicked", fields))
        t += watched
        if abandoned:
            break
        t += rng.randint(50, 300)
    if not abandoned:
        timeline.append((t, "ad_break_ended", break_fields))
    timeline.sort(key=lambda item: item[0])  # stable: same-time events keep their order
    for at, type_, fields in timeline:
        em.session(type_, at, **fields)
    return BreakResult(end_ms=t, abandoned=abandoned)

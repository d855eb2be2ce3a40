"""Engagement around a view: reactions, live chat, shares, follows, unfollows and tips.

These are what creators care about most, and they hang off views: a viewer reacts while
watching, chats and tips during live streams, shares or follows after a view that held them.
Rates depend on the viewer's habits (a minority chats a lot, a few tip) and on how much of
the title they watched, so engagement rates differ by creator and content type in a way
the engagement marts can show.
"""

from __future__ import annotations

import random

from tools.simulator.audience import Audience
from tools.simulator.clock import MINUTE_MS
from tools.simulator.emit import Emitter
from tools.simulator.network import COUNTRY_BY_CODE
from tools.simulator.playback import ViewResult

REACTIONS = ("heart", "fire", "laugh", "clap", "wow", "sad")
SHARE_CHANNELS = ("copy_link", "whatsapp", "instagram", "messages", "x", "telegram")
TIP_US_CENTS = (100, 200, 500, 500, 1_000, 2_000, 5_000)


def react(em: Emitter, rng: random.Random, at_ms: int, reaction: str | None = None) -> str:
    """A reaction to the emitter's title; returns the reaction code."""
    code = reaction or rng.choice(REACTIONS)
    em.engagement(
        "reaction_added",
        at_ms,
        target_id=em.content.content_id,
        target_type=em.content.content_type,
        reaction=code,
    )
    return code


def tip(em: Emitter, rng: random.Random, at_ms: int) -> None:
    """A tip in the viewer's local currency (amount in minor units, rounded like a price)."""
    country = COUNTRY_BY_CODE[em.viewer.country]
    amount = round_price(rng.choice(TIP_US_CENTS) * country.minor_per_usd_cent)
    em.engagement("tip", at_ms, amount_minor=amount, currency=country.currency)


def round_price(value: float) -> int:
    """Two significant digits: 8300.0 -> 8300, 158000000 -> 160000000, 0.79 -> 1."""
    if value < 1:
        return 1
    magnitude = 10 ** max(0, len(str(int(value))) - 2)
    return max(1, round(value / magnitude) * magnitude)


def _poisson_times(rng: random.Random, per_min: float, start: int, end: int, cap: int) -> list[int]:
    times: list[int] = []
    if per_min <= 0 or end <= start:
        return times
    t = start
    while len(times) < cap:
        t += int(rng.expovariate(per_min / MINUTE_MS)) + 1
        if t >= end:
            break
        times.append(t)
    return times


def around_view(em: Emitter, rng: random.Random, audience: Audience, view: ViewResult) -> None:
    """Plan the engagement of a view of a VOD, clip or live stream that started."""
    if not view.started:
        return
    content, viewer = em.content, em.viewer
    start, end = view.play_start_ms, view.end_ms
    if end <= start:
        return
    watched_min = view.played_ms / MINUTE_MS
    live = content.content_type == "live"
    if live:
        for at in _poisson_times(rng, viewer.chat_per_min, start, end, cap=300):
            em.engagement(
                "chat_message",
                at,
                live_id=content.content_id,
                length=min(500, int(rng.lognormvariate(3.3, 0.7)) + 1),
            )
        for at in _poisson_times(rng, 0.12 + viewer.chat_per_min / 4, start, end, cap=100):
            react(em, rng, at)
    elif rng.random() < (0.10 if content.content_type == "clip" else 0.05):
        react(em, rng, rng.randint(start, end))
    if rng.random() < 0.012 + (0.02 if view.completed else 0.0):
        em.engagement("share", rng.randint(start, end), channel=rng.choice(SHARE_CHANNELS))
    key = (viewer.index, content.creator_index)
    if key not in audience.follows:
        liked = view.completed or (live and watched_min > 10)
        if rng.random() < 0.008 + (0.03 if liked else 0.0):
            audience.follows.add(key)
            em.viewer_event("follow", rng.randint(start, end))
    elif rng.random() < 0.003:
        audience.follows.discard(key)
        em.viewer_event("unfollow", end)
    tip_chance = (0.15 if viewer.tipper else 0.004) if live else (0.01 if viewer.tipper else 0.0)
    if rng.random() < tip_chance:
        tip(em, rng, rng.randint(start, end))

"""Watching a creator's story tray: views, taps, completions and reactions.

A viewer opens a tray and goes through the creator's unexpired stories in order. Each story
is a `story_viewed` (with its position in the tray) plus a short autoplaying playback
session, so stories get QoE and retention like other video. The viewer then lets it finish
(`story_completed`, next story), taps forward or back, taps out or swipes to the next creator
(`story_navigated`). A few react, and a few of those react twice: METRICS.md counts a
second reaction (and any reaction after the story expired, see `stale_reaction`) as invalid,
so the simulator sends some on purpose. Viewing a story that announces a live stream makes
the viewer more likely to join that stream (see `Audience.remember_announcement`).
"""

from __future__ import annotations

import random

from tools.simulator.audience import Arrival, Audience
from tools.simulator.clock import DAY_MS
from tools.simulator.emit import Emitter, Planned
from tools.simulator.engagement import react
from tools.simulator.playback import Intent, play_view

REACT_PROB = 0.05
REPEAT_REACTION_PROB = 0.15
"""Share of story reactors who send a second reaction to the same story."""
MAX_STORIES_PER_TRAY = 30


def watch_tray(
    rng: random.Random, audience: Audience, arrival: Arrival, t0: int, out: list[Planned]
) -> None:
    """Plan a viewer going through `arrival.tray` starting at `t0`."""
    viewer, tray = arrival.viewer, arrival.tray
    t, position, backs = t0, 0, 0
    for _ in range(MAX_STORIES_PER_TRAY):
        if position >= len(tray):
            return
        story = tray[position]
        duration = story.duration_ms or 5_000
        em = Emitter(rng, viewer, story, out)
        em.engagement("story_viewed", t, story_id=story.content_id, position=position)
        if story.announces_live_id is not None:
            audience.remember_announcement(story.announces_live_id, t + DAY_MS, viewer)
        roll = rng.random()
        if roll < 0.62:
            action, watch = None, duration
        elif roll < 0.85:
            action, watch = "tap_forward", rng.randint(300, duration - 300)
        elif roll < 0.93:
            action, watch = "tap_exit", rng.randint(300, duration - 300)
        elif roll < 0.97:
            action, watch = "swipe_forward", rng.randint(300, duration - 300)
        else:
            action = "tap_back" if position > 0 and backs < 2 else "tap_forward"
            watch = rng.randint(300, duration - 300)
        exit_reason = "replaced" if action in ("tap_forward", "tap_back") else "user_exit"
        view = play_view(
            em,
            rng,
            viewer.profile,
            t,
            Intent(
                watch_ms=watch,
                exit_reason=exit_reason,
                autoplay=True,
                interactive=False,
                quick_start=True,
            ),
        )
        if not view.ended:
            return  # the app went away mid-story: the rest of the tray is never seen
        if view.started and rng.random() < REACT_PROB:
            at = rng.randint(view.play_start_ms, max(view.play_start_ms, view.end_ms))
            code = react(em, rng, at)
            if rng.random() < REPEAT_REACTION_PROB:
                react(em, rng, at + rng.randint(800, 4_000), code)
        t = view.end_ms
        if view.completed:
            em.engagement("story_completed", t)
            position += 1
        else:
            if action is None:
                action = "tap_exit" if view.started else "tap_forward"
            em.engagement("story_navigated", t, action=action)
            if action in ("tap_exit", "swipe_forward"):
                return
            if action == "tap_back":
                backs += 1
                position -= 1
            else:
                position += 1
        t += rng.randint(100, 400)


def stale_reaction(rng: random.Random, arrival: Arrival, t: int, out: list[Planned]) -> None:
    """A reaction to an expired story from an app that kept a stale tray on screen."""
    if arrival.content is None:
        return
    react(Emitter(rng, arrival.viewer, arrival.content, out, session=False), rng, t)

"""One playback session (one view), from `play_requested` to `playback_ended`.

The session is simulated as a timeline in wall-clock milliseconds: startup, then playing
interrupted by stalls, pauses, seeks, mid-roll ads, rendition switches and errors, each
arriving as a Poisson process whose rate comes from the viewer's `NetworkProfile`. The
player reports it as EVENTS.md asks:

- a heartbeat every 10 s of wall time while the session is open (also while paused or
  stalled, so the server does not close a paused view as dropped), and one at every state
  change (playing, stalled, paused, seeking);
- the delta fields (`played_ms`, `stalled_ms`, `stall_count`, `seek_ms`) on heartbeats and
  `playback_ended` cover the time since the previous event that carried deltas (events such
  as `quality_changed` carry none), so summing them gives exact totals per view and per
  minute with no server-side state; a stall is counted in the event where it begins;
- `startup_ms` is the time to the content's first frame and excludes a pre-roll ad break
  (as Mux's "video startup time" does); the pre-roll is tracked by its own ad events.

Some views fail before the first frame (`playback_error` fatal), some viewers give up before
it (exit before video start), and a few sessions just stop sending (app killed): the server
closes those as dropped views after 60 s.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any

from tools.simulator.ads import play_ad_break
from tools.simulator.clock import MINUTE_MS, SECOND_MS
from tools.simulator.emit import Emitter
from tools.simulator.latency import JITTER, latency_ms, stream_progress, viewer_base_ms
from tools.simulator.network import LADDER, NetworkProfile, rendition_for
from tools.simulator.sampling import lognormal_ms

HEARTBEAT_MS = 10 * SECOND_MS
MIDROLL_EVERY_MS = 6 * MINUTE_MS
"""VOD mid-roll cue points: every six minutes of media, for titles of eight minutes or more."""
LIVE_MIDROLL_MEAN_MS = 15 * MINUTE_MS

FATAL_ERRORS = (
    ("MEDIA_ERR_SRC_NOT_SUPPORTED", "no playable source"),
    ("MANIFEST_LOAD_ERROR", "manifest request failed"),
    ("DRM_LICENSE_ERROR", "license request denied"),
    ("NETWORK_ERROR", "segment download failed after retries"),
)
RECOVERABLE_ERRORS = (
    ("SEGMENT_TIMEOUT", "segment request timed out, retried"),
    ("BUFFER_APPEND_ERROR", "buffer append failed, flushed and retried"),
    ("AUDIO_DECODE_WARNING", "audio frame skipped"),
)
_NO_DELTAS = {"played_ms": 0, "stalled_ms": 0, "stall_count": 0, "seek_ms": 0}


@dataclass(frozen=True, slots=True)
class Intent:
    """What the viewer means to do: how much to watch and how the view may end early."""

    watch_ms: int
    exit_reason: str = "user_exit"
    autoplay: bool = False
    preroll: bool = False
    midrolls: bool = False
    interactive: bool = True
    """Pauses and seeks happen (not in stories and clips)."""
    quick_start: bool = False
    """Preloaded media (stories): startup is about half as long."""


@dataclass(frozen=True, slots=True)
class ViewResult:
    started: bool
    failed: bool
    ended: bool
    """A `playback_ended` was sent (False: the view is dropped by the server)."""
    completed: bool
    play_start_ms: int
    end_ms: int
    played_ms: int


def play_view(
    em: Emitter, rng: random.Random, profile: NetworkProfile, t0: int, intent: Intent
) -> ViewResult:
    """Plan the events of one view of `em.content` requested at `t0`."""
    em.session("play_requested", t0, autoplay=intent.autoplay)
    if rng.random() < profile.fatal_failure_prob:
        failed_at = t0 + lognormal_ms(rng, 1_500, 0.6)
        code, message = rng.choice(FATAL_ERRORS)
        em.session("playback_error", failed_at, code=code, fatal=True, message=message)
        ended = rng.random() < 0.85
        if ended:
            failed_at += rng.randint(20, 400)
            em.session("playback_ended", failed_at, reason="error", **_NO_DELTAS)
        return ViewResult(False, True, ended, False, t0, failed_at, 0)
    t = t0
    if intent.preroll:
        ad_break = play_ad_break(em, rng, t0 + rng.randint(50, 400), "pre")
        t = ad_break.end_ms
        if ad_break.abandoned:
            em.session("playback_ended", t, reason="user_exit", **_NO_DELTAS)
            return ViewResult(False, False, True, False, t0, t, 0)
    median = profile.startup_median_ms * (0.5 if intent.quick_start else 1.0)
    startup = lognormal_ms(rng, median, profile.startup_sigma)
    patience = lognormal_ms(rng, 4_000 if intent.autoplay else 8_000, 0.6)
    if startup > patience:
        gave_up_at = t + patience
        ended = rng.random() < 0.6
        if ended:
            em.session("playback_ended", gave_up_at, reason="user_exit", **_NO_DELTAS)
        return ViewResult(False, False, ended, False, t0, gave_up_at, 0)
    t += startup
    em.session("playback_started", t, startup_ms=startup)
    return _Playback(em, rng, profile, intent, t).run()


class _Playback:
    """The started part of a view: the timeline loop and its heartbeats."""

    def __init__(
        self,
        em: Emitter,
        rng: random.Random,
        profile: NetworkProfile,
        intent: Intent,
        t_start: int,
    ) -> None:
        self.em = em
        self.rng = rng
        self.profile = profile
        self.intent = intent
        content = em.content
        self.live = content.content_type == "live"
        self.duration = content.duration_ms or 0
        self.t_start = t_start
        self.t = t_start
        self.next_tick = t_start + HEARTBEAT_MS
        self.played = self.stalled = self.stall_count = self.seek = 0
        self.total_played = 0
        bandwidth = profile.bandwidth_median_kbps * math.exp(rng.gauss(0.0, 0.5))
        self.cap = rendition_for(bandwidth, profile.max_height)
        self.rendition = max(0, self.cap - 1)  # ABR starts a step below what the link allows
        self.rewound = False
        self.midroll_positions: list[int] = []
        self.next_live_midroll = 0
        if self.live:
            if content.ends_at_ms is None:
                raise ValueError(f"live {content.content_id} has no end")
            self.live_end = content.ends_at_ms
            self.media = max(0, t_start - content.published_at_ms - rng.randint(2_000, 8_000))
            # Its own generator (seeded by the session), so live latency draws nothing from
            # `rng` and leaves every other event of the traffic as it was.
            self.latency_rng = random.Random(em.session_id)
            self.latency_base = viewer_base_ms(self.latency_rng)
            self.end_at = min(t_start + intent.watch_ms, self.live_end)
            if intent.midrolls:
                self.next_live_midroll = t_start + int(rng.expovariate(1 / LIVE_MIDROLL_MEAN_MS))
        else:
            self.media = 0
            self.media_end = min(self.duration, intent.watch_ms)
            if intent.midrolls and self.duration >= 8 * MINUTE_MS:
                self.midroll_positions = list(
                    range(MIDROLL_EVERY_MS, self.duration - MINUTE_MS, MIDROLL_EVERY_MS)
                )

    def run(self) -> ViewResult:
        rng, profile, intent = self.rng, self.profile, self.intent
        stall_rate = profile.stalls_per_min / MINUTE_MS * (1.6 if self.live else 1.0)
        can_interact = intent.interactive and not self.live
        pause_rate = 1 / (8 * MINUTE_MS) if can_interact else 0.0
        seek_rate = 1 / (10 * MINUTE_MS) if can_interact else 0.0
        recoverable_rate = 0.02 / MINUTE_MS
        fatal_rate = profile.fatal_per_min / MINUTE_MS
        drop_rate = 0.003 / MINUTE_MS
        while True:
            remaining = (self.end_at - self.t) if self.live else (self.media_end - self.media)
            if remaining <= 0:
                break
            up_rate = 1 / (40 * SECOND_MS) if self.rendition < self.cap else 0.0
            next_incident, incident = remaining, "end"
            for rate, name in (
                (stall_rate, "stall"),
                (pause_rate, "pause"),
                (seek_rate, "seek"),
                (up_rate, "quality_up"),
                (recoverable_rate, "recoverable_error"),
                (fatal_rate, "fatal_error"),
                (drop_rate, "drop"),
            ):
                if rate > 0.0:
                    wait = int(rng.expovariate(rate)) + 1
                    if wait < next_incident:
                        next_incident, incident = wait, name
            while self.midroll_positions and self.midroll_positions[0] <= self.media:
                self.midroll_positions.pop(0)  # seeked past the cue point
            if self.midroll_positions:
                wait = self.midroll_positions[0] - self.media
                if wait < next_incident:
                    next_incident, incident = wait, "midroll"
            if self.next_live_midroll:
                wait = max(1, self.next_live_midroll - self.t)
                if wait < next_incident:
                    next_incident, incident = wait, "midroll"
            self.advance("playing", self.t + next_incident)
            if incident == "end":
                break
            outcome = getattr(self, f"_on_{incident}")()
            if outcome is not None:
                return outcome
        completed = self.t >= self.live_end if self.live else self.media >= self.duration
        return self.end("completed" if completed else intent.exit_reason, completed)

    def advance(self, state: str, until: int) -> None:
        """Let time run to `until` in `state`, sending the 10-second heartbeats on the way."""
        while self.next_tick < until:
            self._accumulate(state, self.next_tick - self.t)
            self.t = self.next_tick
            self.heartbeat(state)
            self.next_tick += HEARTBEAT_MS
        self._accumulate(state, until - self.t)
        self.t = until

    def _accumulate(self, state: str, elapsed: int) -> None:
        if state == "playing":
            self.played += elapsed
            self.total_played += elapsed
            self.media += elapsed
        elif state == "stalled":
            self.stalled += elapsed
        elif state == "seeking":
            self.seek += elapsed

    def _take_deltas(self) -> dict[str, int]:
        deltas = {
            "played_ms": self.played,
            "stalled_ms": self.stalled,
            "stall_count": self.stall_count,
            "seek_ms": self.seek,
        }
        self.played = self.stalled = self.stall_count = self.seek = 0
        return deltas

    def _buffer_ms(self, state: str) -> int:
        if state == "stalled":
            return 0
        if self.live:
            return self.rng.randint(2_000, 6_000)
        target = int(self.profile.buffer_target_ms * self.rng.uniform(0.5, 1.0))
        return max(0, min(target, self.duration - self.media))

    def _player_fields(self, state: str) -> dict[str, Any]:
        return {
            **self._take_deltas(),
            "bitrate_kbps": LADDER[self.rendition][0],
            "playhead_ms": self.media,
            "buffer_ms": self._buffer_ms(state),
        }

    def heartbeat(self, state: str) -> None:
        dropped = self.rng.randint(1, 30) if state == "playing" and self.rng.random() < 0.1 else 0
        latency = {}
        if self.live:
            progress = stream_progress(self.t, self.em.content.published_at_ms, self.live_end)
            jitter = self.latency_rng.uniform(*JITTER)
            latency["live_latency_ms"] = latency_ms(self.latency_base, progress, jitter)
        self.em.session(
            "heartbeat",
            self.t,
            **self._player_fields(state),
            dropped_frames=dropped,
            state=state,
            **latency,
        )

    def end(self, reason: str, completed: bool = False, failed: bool = False) -> ViewResult:
        self.em.session("playback_ended", self.t, reason=reason, **self._player_fields("playing"))
        return ViewResult(True, failed, True, completed, self.t_start, self.t, self.total_played)

    def _quality_changed(self) -> None:
        kbps, height = LADDER[self.rendition]
        self.em.session("quality_changed", self.t, bitrate_kbps=kbps, height=height)

    def _on_stall(self) -> ViewResult | None:
        self.stall_count += 1
        self.heartbeat("stalled")
        length = lognormal_ms(self.rng, self.profile.stall_median_ms, 0.8)
        if self.rng.random() < 0.1:  # gives up while the spinner turns
            self.advance("stalled", self.t + min(length, lognormal_ms(self.rng, 5_000, 0.5)))
            return self.end("user_exit")
        self.advance("stalled", self.t + length)
        if self.rendition > 0 and self.rng.random() < 0.6:
            self.rendition -= 1
            self.cap = max(self.rendition, self.cap - 1)
            self._quality_changed()
        self.heartbeat("playing")
        return None

    def _on_pause(self) -> ViewResult | None:
        self.heartbeat("paused")
        length = min(10 * MINUTE_MS, lognormal_ms(self.rng, 20_000, 1.0))
        self.advance("paused", self.t + length)
        if self.rng.random() < 0.25:  # never comes back from the pause
            return self.end("user_exit")
        self.heartbeat("playing")
        return None

    def _on_seek(self) -> ViewResult | None:
        self.heartbeat("seeking")
        if not self.rewound and self.media > 15_000 and self.rng.random() < 0.3:
            jump = -self.rng.randint(5_000, 10_000)  # at most one short rewind per view
            self.rewound = True
        else:
            ahead = self.media_end - self.media
            jump = min(ahead, self.rng.randint(5_000, max(5_001, ahead // 3)))
        self.advance("seeking", self.t + lognormal_ms(self.rng, self.profile.seek_median_ms, 0.5))
        self.media += jump
        self.heartbeat("playing")
        return None

    def _on_quality_up(self) -> None:
        self.rendition += 1
        self._quality_changed()

    def _on_recoverable_error(self) -> None:
        code, message = self.rng.choice(RECOVERABLE_ERRORS)
        self.em.session("playback_error", self.t, code=code, fatal=False, message=message)

    def _on_fatal_error(self) -> ViewResult:
        code, message = self.rng.choice(FATAL_ERRORS)
        self.em.session("playback_error", self.t, code=code, fatal=True, message=message)
        self.t += self.rng.randint(20, 400)
        return self.end("error", failed=True)

    def _on_drop(self) -> ViewResult:
        return ViewResult(True, False, False, False, self.t_start, self.t, self.total_played)

    def _on_midroll(self) -> ViewResult | None:
        before = self.t
        if self.live:
            self.next_live_midroll = self.t + int(self.rng.expovariate(1 / LIVE_MIDROLL_MEAN_MS))
        else:
            self.midroll_positions.pop(0)
        ad_break = play_ad_break(self.em, self.rng, self.t, "mid")
        gap = ad_break.end_ms - before
        self.t = ad_break.end_ms
        self.next_tick += gap  # the content player is idle during the break
        if self.live:
            self.media += gap  # the stream went on underneath; rejoin at the live edge
        if ad_break.abandoned:
            return self.end("user_exit")
        return None

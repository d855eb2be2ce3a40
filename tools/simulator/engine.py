"""The traffic engine: arrivals over time, planned sessions, and delivery in time order.

Viewers arrive as a Poisson process. Each arrival is planned whole the moment it happens
(every event of the view with its event time, and its delivery time after faults), and the
events wait in a priority queue keyed by delivery time. `events_between(start, end)` spawns
the arrivals before `end` and hands out everything due before `end`, so:

- the same seed and the same first start give the same events, however the time is cut into
  windows: all randomness is drawn in arrival order from one seeded generator, and the world
  is planned per day from its own seeds;
- in live mode the CLI asks for [last, now) again and again, so simulated time follows the
  wall clock and the run can go on forever; for history, ask for past windows back to back
  (or use `batches`) and write the result straight into the event log;
- the arrival rate is set from the target event rate and the running mean of events per
  arrival, so the delivered rate settles at the target whatever the content mix.

The first window starts with a warm-up: arrivals from `warmup_s` before it are simulated and
their earlier events dropped, so the first minutes already have views in progress and the
full event rate, rather than a cold start with nobody watching.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Iterator
from typing import Any

from tools.simulator.audience import Arrival, Audience
from tools.simulator.clock import MINUTE_MS
from tools.simulator.discovery import impressions_then_play, pick_surface
from tools.simulator.emit import Emitter, Planned
from tools.simulator.engagement import around_view
from tools.simulator.faults import FaultRates, deliveries
from tools.simulator.model import Content, World
from tools.simulator.playback import Intent, play_view
from tools.simulator.sampling import lognormal_ms
from tools.simulator.stats import SimStats
from tools.simulator.stories import stale_reaction, watch_tray

PRIOR_EVENTS_PER_ARRIVAL = 20.0
PRIOR_WEIGHT = 20


class Simulator:
    """Deterministic social-video traffic: `Simulator(seed, creators, rate).events_between(...)`.

    `rate` is the target number of events per second of simulated time. Windows passed to
    `events_between` must follow each other (each starts where the previous one ended).
    """

    def __init__(
        self,
        seed: int = 1,
        creators: int = 50,
        rate: float = 200.0,
        *,
        viewers: int | None = None,
        faults: FaultRates | None = None,
        warmup_s: float = 600.0,
        zipf_exponent: float = 1.1,
        stream: str = "",
        on_air_at_ms: int | None = None,
        on_air_lives: int = 0,
    ) -> None:
        """`stream` names an independent traffic stream over the same world and audience:
        simulators that differ only in `stream` draw different arrivals and event ids, so
        shards of a history can be generated in parallel without repeating each other.
        `on_air_lives` extra live streams are on air at `on_air_at_ms` (`World`)."""
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.seed = seed
        self.rate = rate
        self.faults = faults if faults is not None else FaultRates()
        self.warmup_ms = int(warmup_s * 1000)
        self.world = World(
            seed, creators, zipf_exponent, on_air_at_ms=on_air_at_ms, on_air_lives=on_air_lives
        )
        self.audience = Audience(self.world, seed, viewers or max(2_000, 300 * creators))
        self.stats = SimStats()
        self._rng = random.Random(f"{seed}:traffic:{stream}" if stream else f"{seed}:traffic")
        # Surfaces and impressions draw from their own stream, so adding them left every
        # other draw of the traffic as it was.
        self._discovery_rng = random.Random(f"{seed}:discovery:{stream}")
        self._queue: list[tuple[int, int, str, dict[str, Any]]] = []
        self._order = 0
        self._now: int | None = None
        self._next_arrival = 0.0
        self._planned_events = 0
        self._planned_arrivals = 0

    @property
    def now_ms(self) -> int | None:
        """End of the last window handed out (None before the first)."""
        return self._now

    def catalogue(
        self, start_ms: int, end_ms: int
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Catalogue records covering every title that events in [start, end) can name."""
        return self.world.catalogue_for_traffic(start_ms, end_ms, self.warmup_ms)

    def events_between(self, start_ms: int, end_ms: int) -> list[dict[str, Any]]:
        """Every event delivered in [start_ms, end_ms), in delivery order."""
        if end_ms < start_ms:
            raise ValueError("end_ms is before start_ms")
        if self._now is None:
            self._next_arrival = float(start_ms - self.warmup_ms)
        elif start_ms != self._now:
            raise ValueError(f"windows must be contiguous: the next one starts at {self._now}")
        while self._next_arrival < end_ms:
            self._spawn(int(self._next_arrival))
            self._next_arrival += self._arrival_gap_ms()
        out: list[dict[str, Any]] = []
        queue = self._queue
        while queue and queue[0][0] < end_ms:
            delivered_at, _, tag, event = heapq.heappop(queue)
            if delivered_at >= start_ms:  # earlier ones belong to the warm-up
                self._count(tag, event)
                out.append(event)
        self._now = end_ms
        return out

    def drain(self) -> list[dict[str, Any]]:
        """Everything still queued (the rest of views in progress, late events), in order.

        For a finite history: call after the last window so every planned view is complete.
        """
        out = []
        while self._queue:
            _, _, tag, event = heapq.heappop(self._queue)
            self._count(tag, event)
            out.append(event)
        return out

    def batches(
        self, start_ms: int, end_ms: int, size: int = 100, step_ms: int = MINUTE_MS
    ) -> Iterator[list[dict[str, Any]]]:
        """`events_between` over [start, end) in steps, as lists of at most `size` events."""
        t = start_ms
        while t < end_ms:
            window_end = min(end_ms, t + step_ms)
            events = self.events_between(t, window_end)
            for i in range(0, len(events), size):
                yield events[i : i + size]
            t = window_end

    def _count(self, tag: str, event: dict[str, Any]) -> None:
        stats = self.stats
        stats.events += 1
        if tag == "invalid":
            stats.invalid[str(event.get("sim_invalid"))] += 1
            return
        stats.by_type[event["type"]] += 1
        if tag == "duplicate":
            stats.duplicates += 1
        elif tag == "late":
            stats.late += 1

    def _arrival_gap_ms(self) -> float:
        per_arrival = (self._planned_events + PRIOR_EVENTS_PER_ARRIVAL * PRIOR_WEIGHT) / (
            self._planned_arrivals + PRIOR_WEIGHT
        )
        arrivals_per_ms = self.rate / per_arrival / 1000.0
        return self._rng.expovariate(arrivals_per_ms)

    def _spawn(self, t: int) -> None:
        rng = self._rng
        arrival = self.audience.choose(rng, t)
        if arrival is None:
            return
        planned: list[Planned] = []
        if arrival.kind == "play":
            self._play(arrival, t, planned)
        elif arrival.kind == "stories":
            watch_tray(rng, self.audience, arrival, t, planned)
        else:
            stale_reaction(rng, arrival, t, planned)
        self.stats.arrivals[arrival.kind] += 1
        for at_ms, event in planned:
            for delivered_at, tag, out_event in deliveries(rng, at_ms, event, self.faults):
                self._order += 1
                heapq.heappush(self._queue, (delivered_at, self._order, tag, out_event))
                self._planned_events += 1
        self._planned_arrivals += 1

    def _play(self, arrival: Arrival, t: int, out: list[Planned]) -> None:
        content = arrival.content
        if content is None:
            return
        rng = self._rng
        em = Emitter(rng, arrival.viewer, content, out)
        surface = pick_surface(self._discovery_rng, content.content_type)
        if surface is not None:
            t = impressions_then_play(em, self._discovery_rng, surface, t)
        first = len(out)
        view = play_view(em, rng, arrival.viewer.profile, t, _intent_for(rng, content))
        requested = out[first][1]
        if surface is not None and requested["type"] == "play_requested":
            # The play's own play_requested (the first event it planned) names the surface.
            requested["surface"] = surface
        around_view(em, rng, self.audience, view)


def _intent_for(rng: random.Random, content: Content) -> Intent:
    """How long a viewer means to watch, and which ads the title carries.

    VOD retention falls steeply (most viewers leave early, about a third finish); clips are
    short, autoplay in a feed and are often swiped away ("replaced"); live viewers stay a
    lognormal ~10 minutes unless the stream ends first.
    """
    duration = content.duration_ms or 0
    if content.content_type == "vod":
        full = rng.random() < 0.3
        return Intent(
            watch_ms=duration if full else max(3_000, int(duration * rng.random() ** 1.8)),
            autoplay=rng.random() < 0.1,
            preroll=rng.random() < 0.6,
            midrolls=True,
        )
    if content.content_type == "clip":
        full = rng.random() < 0.55
        return Intent(
            watch_ms=duration if full else max(1_000, int(duration * rng.random() ** 1.2)),
            exit_reason="replaced" if rng.random() < 0.7 else "user_exit",
            autoplay=rng.random() < 0.8,
            preroll=rng.random() < 0.05,
            interactive=False,
        )
    return Intent(
        watch_ms=min(3 * 60 * MINUTE_MS, max(20_000, lognormal_ms(rng, 10 * MINUTE_MS, 1.0))),
        autoplay=rng.random() < 0.05,
        preroll=rng.random() < 0.3,
        midrolls=True,
        interactive=False,
    )

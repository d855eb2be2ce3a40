"""The vectorised engine against a clock: the events delivered in each window, in order.

`events_between(start, end)` plans arrivals a minute at a time with `vector.Traffic` up to
`end` and hands out every event delivered in [start, end), sorted by delivery time, as the
dicts a client would send (a deliberately broken copy right after the event it copies). An
event is final once every arrival before its delivery is planned, because nothing is
delivered before it happens. So:

- the same seed and the same first start give the same events however time is cut into
  windows: chunks are whole minutes of arrivals, each with its own seeded generator;
- in live mode the CLI asks for [last, now) again and again and the run can go on for ever:
  the catalogue the arrivals draw from is rebuilt from the `World` once a day;
- the first window starts with a warm-up: arrivals from `warmup_s` before it are planned and
  their earlier events dropped, so the first minutes already have views in progress.
"""

from __future__ import annotations

import random
from typing import Any

import msgspec
import polars as pl

from tools.simulator.clock import DAY_MS, MINUTE_MS
from tools.simulator.faults import INVALID_KINDS, FaultRates, break_event
from tools.simulator.model import World
from tools.simulator.stats import SimStats
from tools.simulator.vector import population
from tools.simulator.vector.records import Names, client_json
from tools.simulator.vector.traffic import Traffic

CHUNK_MS = MINUTE_MS
_KINDS = tuple(INVALID_KINDS)
_DELIVERY_ORDER = ["delivered", "t", "session", "order"]
_KEPT = ["delivered", "t", "session", "order", "raw", "invalid", "duplicate"]


class TrafficStream:
    """Simulated social-video traffic for `creators` creators at `rate` events per second."""

    def __init__(
        self,
        seed: int,
        creators: int,
        rate: float,
        *,
        viewers: int | None = None,
        faults: FaultRates | None = None,
        warmup_s: float = 600.0,
        on_air_at_ms: int | None = None,
        on_air_lives: int = 0,
    ) -> None:
        """`on_air_lives` extra live streams are on air at `on_air_at_ms` (`World`)."""
        self.seed = seed
        self.rate = rate
        self.faults = faults if faults is not None else FaultRates()
        self.warmup_ms = int(warmup_s * 1000)
        self.world = World(seed, creators, on_air_at_ms=on_air_at_ms, on_air_lives=on_air_lives)
        self.audience = population.viewers(seed, viewers or max(2_000, 300 * creators))
        self.stats = SimStats()
        self._traffic: Traffic | None = None
        self._names: Names | None = None
        self._titles_until = 0
        self._planned_until = 0
        self._pending: pl.DataFrame | None = None
        self._now: int | None = None
        self._breaker = random.Random(f"{seed}:stream-invalid")

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
            self._planned_until = start_ms - self.warmup_ms
        elif start_ms != self._now:
            raise ValueError(f"windows must be contiguous: the next one starts at {self._now}")
        self._now = end_ms
        while self._planned_until < end_ms:
            self._plan_chunk()
        if self._pending is None:
            return []
        due = pl.col("delivered") < end_ms
        ready = self._pending.filter(due & (pl.col("delivered") >= start_ms))
        self._pending = self._pending.filter(~due)
        return self._hand_out(ready.sort(_DELIVERY_ORDER, maintain_order=True))

    def drain(self) -> list[dict[str, Any]]:
        """Every planned event not handed out yet (the rest of the views in progress, late
        events), in delivery order: the end of a finite stretch of traffic."""
        if self._pending is None:
            return []
        ready = self._pending.sort(_DELIVERY_ORDER, maintain_order=True)
        self._pending = None
        return self._hand_out(ready)

    def _plan_chunk(self) -> None:
        start = self._planned_until
        end = (start // CHUNK_MS + 1) * CHUNK_MS
        traffic = self._traffic_for(start)
        assert self._names is not None
        chunk = traffic.chunk(start, end)
        self._planned_until = end
        if chunk.is_empty():
            return
        planned = client_json(self._names.name(chunk)).select(_KEPT)
        self._pending = planned if self._pending is None else pl.concat([self._pending, planned])

    def _traffic_for(self, start: int) -> Traffic:
        """The planner, over titles published up to at least a day after `start`."""
        if self._traffic is not None and start < self._titles_until:
            return self._traffic
        catalogue = population.titles(self.world, start, start + DAY_MS)
        self._titles_until = start + DAY_MS
        self._names = Names(self.audience, catalogue)
        if self._traffic is None:
            self._traffic = Traffic(
                [self.seed, 0x5157], self.rate, catalogue, self.audience, self.faults
            )
            self.stats.arrivals = self._traffic.arrivals  # counted as planned
        else:
            self._traffic.use_titles(catalogue)
        return self._traffic

    def _hand_out(self, ready: pl.DataFrame) -> list[dict[str, Any]]:
        stats, out = self.stats, []
        decode = msgspec.json.decode
        for raw, invalid, duplicate, late in zip(
            ready["raw"].to_list(),
            ready["invalid"].to_list(),
            ready["duplicate"].to_list(),
            (ready["delivered"] > ready["t"]).to_list(),
            strict=True,
        ):
            event = decode(raw)
            out.append(event)
            stats.events += 1
            stats.by_type[event["type"]] += 1
            stats.duplicates += duplicate
            stats.late += late and not duplicate
            if invalid:
                kind = self._breaker.choice(_KINDS)
                out.append(break_event(self._breaker, event, kind))
                stats.events += 1
                stats.invalid[kind] += 1
        return out

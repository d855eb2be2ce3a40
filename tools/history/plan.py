"""What a history covers and how it is cut into shards that can be generated in parallel.

A history is the simulator's traffic over [start, end) for a fixed world (seed, creators).
The simulator is a sequential process (one random stream in arrival order), so one stream
over 30 days would use one core for an hour. Instead the range is cut into shards (one UTC
day by default), each simulated by its own `Simulator` over the same world and audience,
with its own traffic stream named after the shard's start (`Simulator(stream=...)`). So:

- the events depend only on (seed, creators, rate, shard boundaries), never on how many
  worker processes ran or in which order, and a rerun with the same plan is identical;
- a later append of [end, end + 1 h) is a shard of its own, like any other;
- each shard starts with the simulator's usual warm-up (views already in progress) and
  hands out exactly the events delivered in its range: views still running at a shard's
  end are cut there, as they would be in a log read at that instant. The seams are a few
  minutes of overlapping views per shard, a small price for parallel generation.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from tools.simulator.clock import DAY_MS, HOUR_MS, now_ms

EVENTS_PER_CREATOR_PER_S = 0.02
"""Default traffic: 1,000 creators make 20 events/s, about 1.7 million events a day, so 30
days for 1,000 creators is the 50-million-event history the dbt build-time target names."""

WARMUP_S = 600.0
"""Simulated traffic before each shard's start, so it opens with views in progress."""


@dataclass(frozen=True)
class Shard:
    index: int
    start_ms: int
    end_ms: int

    @property
    def stream(self) -> str:
        """The simulator traffic stream of this shard: named by its start, so the same
        range always gets the same events whatever else the plan holds."""
        return f"history:{self.start_ms}"


@dataclass(frozen=True)
class HistoryPlan:
    """Simulated traffic of `creators` creators over [start_ms, end_ms), `rate` events/s."""

    seed: int
    creators: int
    rate: float
    start_ms: int
    end_ms: int
    shard_ms: int = DAY_MS

    def __post_init__(self) -> None:
        if self.creators <= 0:
            raise ValueError("creators must be positive")
        if self.rate <= 0:
            raise ValueError("rate must be positive")
        if self.end_ms <= self.start_ms:
            raise ValueError("the history must end after it starts")
        if self.shard_ms < HOUR_MS:
            raise ValueError("shards are at least an hour long")
        if self.end_ms > now_ms():
            raise ValueError("a history cannot end in the future")

    @classmethod
    def days_before(
        cls,
        end: date,
        days: int,
        seed: int,
        creators: int,
        rate: float | None = None,
    ) -> HistoryPlan:
        """`days` whole UTC days ending at 00:00 UTC of `end`."""
        if days <= 0:
            raise ValueError("days must be positive")
        end_ms = int(datetime(end.year, end.month, end.day, tzinfo=UTC).timestamp() * 1000)
        return cls(
            seed=seed,
            creators=creators,
            rate=rate if rate is not None else default_rate(creators),
            start_ms=end_ms - days * DAY_MS,
            end_ms=end_ms,
        )

    def shards(self) -> list[Shard]:
        shards: list[Shard] = []
        start = self.start_ms
        while start < self.end_ms:
            end = min(self.end_ms, start + self.shard_ms)
            shards.append(Shard(len(shards), start, end))
            start = end
        return shards

    def extended(self, end_ms: int) -> HistoryPlan:
        """The plan of [self.end_ms, end_ms): what appending to this history writes."""
        return HistoryPlan(
            self.seed, self.creators, self.rate, self.end_ms, end_ms, shard_ms=self.shard_ms
        )


def default_rate(creators: int) -> float:
    return EVENTS_PER_CREATOR_PER_S * creators

"""Traffic simulator: creators, viewers and players producing Marquee events.

It stands in for the apps and players of a social video platform, so the whole flow (API,
event log, pipelines, marts, dashboards) has realistic data to work on, locally and in tests:
long-tailed creator popularity, VOD, clips, 24-hour stories and live streams with audiences
that ramp up and down, playback sessions with ads and QoE that differs by platform and
country, engagement, and the faults real clients bring (duplicates, late and invalid events).

One model, one engine. The model (`model`: the world, creators with Zipf popularity and
their catalogue planned per day; `network`, `faults`, `clock`) is shared; the engine that
the command line, `make demo` and `tools.history` run is the vectorised one (`vector`:
whole minutes or hours of arrivals as numpy and polars columns), fed to the API in real
time by `stream`, `live` and `sender`. The event-by-event `Simulator` (`engine`,
`audience`, `playback`, `ads`, `stories`, `engagement`, `emit`) is the reference the
vectorised engine is tested against, and no command runs it; its modules also hold the
model's parameters (what arrivals come for, ad, error and reaction rates, cadences), which
the vectorised engine reads from them, so the two cannot drift apart.

Without HTTP (`from tools.simulator.stream import TrafficStream`; polars and numpy are
imported only by `stream` and `vector`)::

    stream = TrafficStream(seed=1, creators=50, rate=200)
    events = stream.events_between(start_ms, start_ms + 60_000)   # list of event dicts
    creators, content = stream.catalogue(start_ms, start_ms + 60_000)
"""

from tools.simulator.engine import Simulator
from tools.simulator.faults import INVALID_KINDS, INVALID_MARKER, FaultRates
from tools.simulator.model import World
from tools.simulator.stats import SimStats

__all__ = [
    "INVALID_KINDS",
    "INVALID_MARKER",
    "FaultRates",
    "SimStats",
    "Simulator",
    "World",
]

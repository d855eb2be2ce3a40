"""Traffic simulator: creators, viewers and players producing Marquee events.

It stands in for the apps and players of a social video platform, so the whole flow (API,
event log, pipelines, marts, dashboards) has realistic data to work on, locally and in tests:
long-tailed creator popularity, VOD, clips, 24-hour stories and live streams with audiences
that ramp up and down, playback sessions with ads and QoE that differs by platform and
country, engagement, and the faults real clients bring (duplicates, late and invalid events).

Modules, in the order data flows through them:

- `model`: the world - creators (Zipf popularity) and their catalogue, planned per day;
- `network`: playback conditions per platform and country;
- `audience`: the viewers, and what each arrival chooses to watch;
- `emit`: building well-formed events (envelope, seq, ids);
- `playback`, `ads`, `stories`, `engagement`: behaviour that produces events;
- `faults`: duplicates, late and deliberately invalid events;
- `engine`: `Simulator`, arrivals over time and delivery in time order (pure, no I/O);
- `catalog_files`, `sender`, `live`, `__main__`: files, HTTP and the CLI.

Without HTTP::

    sim = Simulator(seed=1, creators=50, rate=200)
    events = sim.events_between(start_ms, start_ms + 60_000)   # list of event dicts
    creators, content = sim.catalogue(start_ms, start_ms + 60_000)
"""

from tools.simulator.engine import SimStats, Simulator
from tools.simulator.faults import INVALID_KINDS, INVALID_MARKER, FaultRates
from tools.simulator.model import World

__all__ = ["INVALID_KINDS", "INVALID_MARKER", "FaultRates", "SimStats", "Simulator", "World"]

"""Delivery faults on purpose: duplicates, late events and deliberately invalid events.

Real clients resend batches they think were lost (the same `event_id` again), flush events
queued while offline minutes later, and now and then send something broken. The platform
must deduplicate, merge late data into its aggregates and quarantine invalid events with a
reason; the simulator produces each case at a small configurable rate so those paths are
always exercised and their counts can be checked.

Invalid events are *extra* copies of real events, broken in one named way, with a fresh
event id and the marker field `sim_invalid` naming the breakage. The valid stream stays
complete (the truth the metrics are checked against), and anyone reading the quarantine can
tell a deliberate fault from a real bug. The contract ignores unknown fields, so the marker
alone never makes an event invalid.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from tools.simulator.clock import MINUTE_MS, SECOND_MS
from tools.simulator.sampling import uuid4

INVALID_MARKER = "sim_invalid"

INVALID_KINDS: dict[str, str] = {
    "missing_viewer_id": "missing_field",
    "missing_event_id": "missing_field",
    "bad_platform": "invalid_field",
    "bad_country": "invalid_field",
    "bad_timestamp": "invalid_field",
    "negative_seq": "invalid_field",
    "unknown_type": "unknown_type",
}
"""Each deliberate breakage and the reject reason (`marquee.events.RejectReason`) it must get."""
_KINDS = tuple(INVALID_KINDS)


@dataclass(frozen=True, slots=True)
class FaultRates:
    """Per-event probabilities of each fault (0 turns it off); an event gets at most one."""

    duplicate: float = 0.01
    late: float = 0.005
    invalid: float = 0.002
    late_min_ms: int = 2 * MINUTE_MS
    late_max_ms: int = 10 * MINUTE_MS
    duplicate_max_delay_ms: int = 30 * SECOND_MS

    def __post_init__(self) -> None:
        for name in ("duplicate", "late", "invalid"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} rate must be within [0, 1], got {value}")
        if self.duplicate + self.late + self.invalid > 1.0:
            raise ValueError("the fault rates add up to more than 1")


NONE = FaultRates(duplicate=0.0, late=0.0, invalid=0.0)

Delivery = tuple[int, str, dict[str, Any]]
"""(delivery time in epoch ms, tag, event); tag is "", "duplicate", "late" or "invalid"."""


def break_event(rng: random.Random, event: dict[str, Any], kind: str) -> dict[str, Any]:
    """A copy of `event` broken in the way `kind` names (a key of INVALID_KINDS)."""
    broken = dict(event)
    broken["event_id"] = uuid4(rng)
    broken.pop("seq", None)  # not part of the session's numbering
    broken[INVALID_MARKER] = kind
    if kind == "missing_viewer_id":
        del broken["viewer_id"]
    elif kind == "missing_event_id":
        del broken["event_id"]
    elif kind == "bad_platform":
        broken["platform"] = "smart_fridge"
    elif kind == "bad_country":
        broken["country"] = "Narnia"
    elif kind == "bad_timestamp":
        broken["ts"] = "yesterday at noon"
    elif kind == "negative_seq":
        broken["seq"] = -1
    elif kind == "unknown_type":
        broken["type"] = "playback_exploded"
    else:
        raise ValueError(f"unknown invalid kind {kind!r}")
    return broken


def deliveries(
    rng: random.Random, at_ms: int, event: dict[str, Any], rates: FaultRates
) -> list[Delivery]:
    """How one planned event reaches the server: on time, late, twice, or with a broken copy.

    The faults are exclusive and decided by one draw (this runs for every event).
    """
    roll = rng.random()
    if roll >= rates.late + rates.duplicate + rates.invalid:
        return [(at_ms, "", event)]
    if roll < rates.late:
        return [(at_ms + rng.randint(rates.late_min_ms, rates.late_max_ms), "late", event)]
    if roll < rates.late + rates.duplicate:
        again = at_ms + rng.randint(200, rates.duplicate_max_delay_ms)
        return [(at_ms, "", event), (again, "duplicate", dict(event))]
    kind = rng.choice(_KINDS)
    return [(at_ms, "", event), (at_ms, "invalid", break_event(rng, event, kind))]

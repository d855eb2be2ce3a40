"""Rejected events: a sample of the quarantine (its newest sealed segments).

Each record keeps its reason, a readable detail and the payload for a replay after a fix.
A refused event (`index` set) carries one of the event contract's reasons (RejectReason) or
a CMCD report's; an unknown one is a warning (the quarantine holds it aside either way); a
body refused whole carries the API's error code. Nothing is quarantined in the future.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from expectations.dataset import Dataset, SuiteBuilder
from marquee.events import RejectReason

if TYPE_CHECKING:
    import pandas as pd

    from expectations.sources import Sources

CMCD_REASONS = ("malformed_report",)
"""A CMCD report the API could not read at all (ingestion_api.cmcd), beside the contract's."""
COLUMNS = ("quarantined_at_ms", "app_id", "reason", "detail", "payload")


def load(sources: Sources) -> pd.DataFrame | None:
    frame = sources.segment_sample(sources.layout.quarantine_dir, [*COLUMNS, "index"])
    if frame is None:
        return None
    frame["event_reason"] = frame["reason"].where(frame["index"].notna())
    frame["ms_ahead_of_now"] = frame["quarantined_at_ms"] - sources.now_ms
    frame["label"] = frame["segment"] + " " + frame["reason"].astype(str)
    return frame


def build(suite: SuiteBuilder) -> None:
    suite.columns(COLUMNS)
    suite.not_null(COLUMNS)
    suite.matches("reason", "^[a-z_]+$", "a stable reason code")
    suite.in_set(
        "event_reason", [*(reason.value for reason in RejectReason), *CMCD_REASONS], "warning"
    )
    suite.between(
        ["ms_ahead_of_now"], None, 300_000, why="quarantined no later than now", severity="warning"
    )


DATASET = Dataset(
    name="quarantine",
    layer="raw",
    description="A sample of the quarantine: its newest sealed segments",
    load=load,
    build=build,
    required=False,
)

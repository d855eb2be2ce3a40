"""Per content, over every committed minute of the lake: starts stay within attempts.

A start counts in the minute of its `playback_started` and its request in the minute of its
`play_requested`, so one minute may hold a start whose request is in the minute before;
summed per content they balance. A request can also be lost while its start is not (the API
quarantined it, or it came before the data began), so a content may have a few more starts
than requests: up to `LOST_REQUESTS` or `LOST_SHARE` of its requests, whichever is more. A
pipeline counting starts twice, or requests not at all, is far beyond that.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from expectations.dataset import Dataset, SuiteBuilder
from marquee.lake import MINUTE_AGGREGATES

if TYPE_CHECKING:
    import pandas as pd

    from expectations.sources import Sources

LOST_REQUESTS = 2
LOST_SHARE = 0.05


def load(sources: Sources) -> pd.DataFrame | None:
    return sources.lake(
        MINUTE_AGGREGATES,
        f"""
        select content_id, sum(attempts) as attempts, sum(starts) as starts,
            sum(starts) - sum(attempts)
                - greatest({LOST_REQUESTS}, {LOST_SHARE} * sum(attempts)) as starts_beyond_attempts,
            content_id || ': ' || sum(starts) || ' starts, ' || sum(attempts) || ' attempts'
                as label
        from {{files}}
        group by content_id
        """,
    )


def build(suite: SuiteBuilder) -> None:
    suite.unique(["content_id"])
    suite.between(
        ["starts_beyond_attempts"],
        None,
        0,
        why=(
            f"starts <= attempts per content, give or take {LOST_REQUESTS} or "
            f"{LOST_SHARE:.0%} lost requests"
        ),
    )


DATASET = Dataset(
    name="lake_content_totals",
    layer="lake",
    description="minute_aggregates summed per content",
    load=load,
    build=build,
    required=False,
)

"""Per content, over every committed minute of the lake: starts never exceed attempts.

A start counts in the minute of its `playback_started` and its request in the minute of its
`play_requested`, so one minute may hold a start whose request is in the minute before;
summed per content they balance. The first minute of the data may still hold a start whose
request came before it, hence `mostly`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from expectations.dataset import Dataset, SuiteBuilder
from marquee.lake import MINUTE_AGGREGATES

if TYPE_CHECKING:
    import pandas as pd

    from expectations.sources import Sources


def load(sources: Sources) -> pd.DataFrame | None:
    return sources.lake(
        MINUTE_AGGREGATES,
        """
        select content_id, sum(attempts) as attempts, sum(starts) as starts,
            content_id || ': ' || sum(starts) || ' starts, ' || sum(attempts) || ' attempts'
                as label
        from {files}
        group by content_id
        """,
    )


def build(suite: SuiteBuilder) -> None:
    suite.unique(["content_id"])
    suite.at_least("attempts", "starts", why="every start had a play request", mostly=0.999)


DATASET = Dataset(
    name="lake_content_totals",
    layer="lake",
    description="minute_aggregates summed per content",
    load=load,
    build=build,
    required=False,
)

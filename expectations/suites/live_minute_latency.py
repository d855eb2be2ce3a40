"""`live_minute_latency`: p50 and p95 live latency per live stream and UTC minute."""

from __future__ import annotations

from expectations.dataset import SuiteBuilder
from expectations.marts import mart_dataset


def rules(suite: SuiteBuilder) -> None:
    suite.not_null(["creator_id", "live_latency_p50_ms", "live_latency_p95_ms"])
    suite.non_negative(["live_latency_p50_ms", "live_latency_p95_ms"])
    suite.between(["latency_heartbeats"], 1, None, why="a row has a heartbeat with a latency")
    suite.at_least(
        "live_latency_p95_ms", "live_latency_p50_ms", why="a higher percentile is never lower"
    )


DATASETS = (
    mart_dataset(
        "live_minute_latency",
        ("live_id", "epoch_minute"),
        rules,
        "Live latency per minute",
    ),
)

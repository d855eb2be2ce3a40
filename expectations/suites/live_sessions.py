"""`live_sessions`: one row per live stream."""

from __future__ import annotations

from expectations.dataset import SuiteBuilder
from expectations.marts import mart_dataset


def rules(suite: SuiteBuilder) -> None:
    suite.not_null(["creator_id"])
    suite.non_negative(
        [
            "stream_minutes",
            "views",
            "play_requests",
            "starts",
            "unique_viewers",
            "played_ms",
            "stalled_ms",
            "watched_ms",
            "chat_messages",
            "chatters",
            "tips",
        ]
    )
    suite.at_least("last_minute", "first_minute", why="a stream ends after it starts")
    suite.at_least(
        "peak_concurrent_viewers", "avg_concurrent_viewers", why="the peak bounds the mean"
    )
    suite.at_least("watched_ms", "played_ms", why="watched time includes played time")
    suite.at_least("chat_messages", "chatters", why="a chatter sent a message")
    suite.non_negative(["latency_heartbeats", "live_latency_p50_ms", "live_latency_p95_ms"])
    suite.at_least(
        "live_latency_p95_ms", "live_latency_p50_ms", why="a higher percentile is never lower"
    )


DATASETS = (mart_dataset("live_sessions", ("live_id",), rules, "Live streams"),)

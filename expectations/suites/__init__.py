"""Every dataset the checkpoint validates, one module per dataset (`DATASET`, or `DATASETS`
for a mart and its volume), in the order the data flows: raw events, lake, marts."""

from __future__ import annotations

import importlib

from expectations.dataset import Dataset

MODULES = (
    "raw_events",
    "quarantine",
    "lake_minutes",
    "lake_content_totals",
    "lake_platform_volume",
    "content_daily_performance",
    "content_daily_qoe",
    "content_minute_qoe",
    "dimension_daily_qoe",
    "dimension_minute_qoe",
    "playback_sessions",
    "vod_clip_performance",
    "vod_clip_retention",
    "creator_daily_performance",
    "creator_daily_tips",
    "content_daily_impressions",
    "creator_daily_impressions",
    "live_sessions",
    "live_minute_retention",
    "live_minute_latency",
    "live_session_tips",
    "live_session_clips",
    "stories",
    "ad_daily_performance",
    "ad_placement_daily_performance",
    "ad_position_daily_performance",
    "content_daily_ad_performance",
    "creator_daily_ad_performance",
    "pipeline_dead_letters",
    "rejected_events_hourly",
    "source_freshness",
)


def all_datasets() -> list[Dataset]:
    found: list[Dataset] = []
    for name in MODULES:
        module = importlib.import_module(f"expectations.suites.{name}")
        single = getattr(module, "DATASET", None)
        found.extend([single] if single is not None else module.DATASETS)
    return found

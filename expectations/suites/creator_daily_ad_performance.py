"""`creator_daily_ad_performance`: ad delivery per (creator_id, day, ad_format);
the rules of every ad mart (`expectations.suites.ads`)."""

from __future__ import annotations

from expectations.marts import mart_dataset, mart_volume
from expectations.suites.ads import ad_rules

NAME = "creator_daily_ad_performance"

DATASETS = (
    mart_dataset(
        NAME,
        (
            "creator_id",
            "day",
            "ad_format",
        ),
        ad_rules,
        "Ad delivery per creator_id, day, ad_format",
    ),
    mart_volume(NAME, "day", min_baseline=20),
)

"""`ad_daily_performance`: ad delivery per (day, ad_id, ad_format);
the rules of every ad mart (`expectations.suites.ads`)."""

from __future__ import annotations

from expectations.marts import mart_dataset, mart_volume
from expectations.suites.ads import ad_rules

NAME = "ad_daily_performance"

DATASETS = (
    mart_dataset(
        NAME,
        (
            "day",
            "ad_id",
            "ad_format",
        ),
        ad_rules,
        "Ad delivery per day, ad_id, ad_format",
    ),
    mart_volume(NAME, "day", min_baseline=20),
)

"""Rules shared by the ad marts: counts non-negative, quartile reach decreasing, rates in
percent."""

from __future__ import annotations

from expectations.dataset import SuiteBuilder

COUNTS = ("ad_impressions", "ad_q25", "ad_q50", "ad_q75", "ad_q100", "ad_skips", "ad_clicks")
RATES = (
    "q25_reach_pct",
    "q50_reach_pct",
    "q75_reach_pct",
    "q100_reach_pct",
    "ad_completion_rate_pct",
    "skip_rate_pct",
    "ctr_pct",
)


def ad_rules(suite: SuiteBuilder) -> None:
    suite.non_negative(COUNTS)
    suite.percent(RATES)
    for earlier, later in (("ad_q25", "ad_q50"), ("ad_q50", "ad_q75"), ("ad_q75", "ad_q100")):
        suite.at_least(
            earlier,
            later,
            severity="warning",
            why="a later quartile is reached after, give or take a day boundary",
            mostly=0.999,
        )

"""`stories`: one row per story; funnel counts in order, rates in percent."""

from __future__ import annotations

from expectations.dataset import SuiteBuilder
from expectations.marts import mart_dataset


def rules(suite: SuiteBuilder) -> None:
    suite.not_null(["creator_id"])
    suite.non_negative(["reach", "impressions", "completed_viewers", "completions", "reactions"])
    suite.at_least("impressions", "reach", why="a viewer reached has an impression")
    suite.at_least("reach", "completed_viewers", why="completers were reached")
    suite.at_least("reactions", "valid_reactions", why="valid reactions are a subset")
    suite.percent(["completion_rate_pct", "reaction_rate_pct", "story_to_live_conversion_pct"])


DATASETS = (mart_dataset("stories", ("story_id",), rules, "Stories"),)

"""`creator_daily_tips`: tips per creator per day and currency."""

from __future__ import annotations

from expectations.dataset import SuiteBuilder
from expectations.marts import mart_dataset


def rules(suite: SuiteBuilder) -> None:
    suite.matches("currency", "^[A-Z]{3}$", "an ISO 4217 code")
    suite.between(["tips"], 1, None, why="a row exists because of a tip")
    suite.non_negative(["tips_amount_minor"])


DATASETS = (
    mart_dataset(
        "creator_daily_tips", ("creator_id", "day", "currency"), rules, "Tips per creator per day"
    ),
)

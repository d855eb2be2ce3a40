"""`live_session_tips`: tips per live stream and currency."""

from __future__ import annotations

from expectations.dataset import SuiteBuilder
from expectations.marts import mart_dataset


def rules(suite: SuiteBuilder) -> None:
    suite.matches("currency", "^[A-Z]{3}$", "an ISO 4217 code")
    suite.between(["tips"], 1, None, why="a row exists because of a tip")
    suite.non_negative(["tips_amount_minor"])


DATASETS = (
    mart_dataset("live_session_tips", ("live_id", "currency"), rules, "Tips per live stream"),
)

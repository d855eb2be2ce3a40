"""`source_freshness`: rows and newest load per source."""

from __future__ import annotations

from expectations.dataset import SuiteBuilder
from expectations.marts import mart_dataset


def rules(suite: SuiteBuilder) -> None:
    suite.non_negative(["row_count"])


DATASETS = (mart_dataset("source_freshness", ("source_name",), rules, "Freshness per source"),)

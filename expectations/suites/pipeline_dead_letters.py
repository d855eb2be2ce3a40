"""`pipeline_dead_letters`: records the pipeline could not process, per reason."""

from __future__ import annotations

from expectations.dataset import SuiteBuilder
from expectations.marts import mart_dataset


def rules(suite: SuiteBuilder) -> None:
    suite.between(["dead_letters", "runs"], 1, None, why="a row exists because of one")


DATASETS = (mart_dataset("pipeline_dead_letters", ("reason",), rules, "Dead letters per reason"),)

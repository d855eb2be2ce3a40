"""`vod_clip_performance`: view-set QoE per VOD or clip over its lifetime."""

from __future__ import annotations

from expectations.dataset import SuiteBuilder
from expectations.marts import mart_dataset
from expectations.suites.view_sets import view_set_rules


def rules(suite: SuiteBuilder) -> None:
    suite.in_set("content_type", ("vod", "clip"))
    view_set_rules(suite)


DATASETS = (mart_dataset("vod_clip_performance", ("content_id",), rules, "VOD and clip QoE"),)

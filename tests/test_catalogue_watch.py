"""The refresh loop skips rebuilding the catalogue tables while the catalogue is unchanged."""

from __future__ import annotations

from pathlib import Path

import pytest

from marquee.catalog import CatalogStore
from marquee.layout import DataLayout
from refresh.catalogue_watch import CATALOGUE_MODELS, CatalogueWatch

pytestmark = pytest.mark.unit

CONTENT = {"content_id": "c1", "creator_id": "u1", "content_type": "vod"}


@pytest.fixture
def layout(tmp_path: Path) -> DataLayout:
    layout = DataLayout(tmp_path).ensure()
    CatalogStore(layout.catalog_dir).upsert("content", [CONTENT])
    layout.dbt_db.parent.mkdir(parents=True, exist_ok=True)
    layout.dbt_db.touch()
    return layout


def test_an_unchanged_catalogue_is_excluded_after_a_successful_pass(layout: DataLayout) -> None:
    watch = CatalogueWatch(layout)
    files = watch.fingerprint()
    assert watch.exclude_args(files) == []  # a new process rebuilds it once
    watch.record(files, pass_succeeded=True)
    assert watch.exclude_args(watch.fingerprint()) == ["--exclude", *CATALOGUE_MODELS]


def test_a_replaced_catalogue_file_is_rebuilt(layout: DataLayout) -> None:
    watch = CatalogueWatch(layout)
    watch.record(watch.fingerprint(), pass_succeeded=True)
    CatalogStore(layout.catalog_dir).upsert("content", [{**CONTENT, "title": "renamed"}])
    assert watch.exclude_args(watch.fingerprint()) == []


def test_after_a_failed_pass_or_without_a_warehouse_the_catalogue_is_rebuilt(
    layout: DataLayout,
) -> None:
    watch = CatalogueWatch(layout)
    files = watch.fingerprint()
    watch.record(files, pass_succeeded=False)
    assert watch.exclude_args(files) == []
    watch.record(files, pass_succeeded=True)
    layout.dbt_db.unlink()
    assert watch.exclude_args(files) == []


def test_an_upsert_that_changes_nothing_leaves_the_file_alone(layout: DataLayout) -> None:
    before = layout.catalog_content_file.stat()
    CatalogStore(layout.catalog_dir).upsert("content", [CONTENT])
    after = layout.catalog_content_file.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)

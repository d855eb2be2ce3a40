"""Datasets over the marts dbt builds: a mart's rows, and its volume against earlier days.

`mart_dataset` reads a mart (all of it, or the newest `recent_days` of a large one: the
rows this build most likely wrote) and checks it with the module's rules; the frame gets a
`label` of its key columns so a failure names the rows. Its columns are held to the ones
its dbt yml documents (`documented_columns`): every documented column present (critical),
none undocumented (a warning: the yml lags a new column). `mart_volume` compares the mart's
rows on the newest complete day with the median of the days before: a mart whose rows
halve is a critical failure.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from expectations.dataset import Dataset, SuiteBuilder, gx_severity
from expectations.volume import mart_rows_volume
from marquee.settings import PROJECT_ROOT

if TYPE_CHECKING:
    import pandas as pd

    from expectations.sources import Sources

SCHEMA = "main"
MODELS_DIR = PROJECT_ROOT / "dbt" / "models"


@functools.cache
def documented_columns(name: str) -> tuple[str, ...] | None:
    """The columns the model's `<name>.yml` documents, None without one."""
    import yaml  # type: ignore[import-untyped, unused-ignore]  # PyYAML ships no stubs

    for path in MODELS_DIR.rglob(f"{name}.yml"):
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for model in document.get("models") or []:
            if model.get("name") == name:
                return tuple(str(column["name"]) for column in model.get("columns") or [])
    return None


def column_rules(suite: SuiteBuilder, name: str) -> None:
    """Every documented column present; an undocumented one is a warning."""
    import great_expectations.expectations as gxe

    documented = documented_columns(name)
    if not documented:
        return
    suite.columns(documented)
    suite.add(
        gxe.ExpectTableColumnsToMatchSet(
            column_set=[*documented, "label"],
            exact_match=True,
            severity=gx_severity("warning"),
            description=f"no column beyond those {name}.yml documents",
        )
    )


def mart_dataset(
    name: str,
    key: Sequence[str],
    rules: Callable[[SuiteBuilder], None],
    description: str,
    recent_days: int | None = None,
    day_column: str | None = None,
) -> Dataset:
    """A mart's rows with its key unique and non-null, then `rules`."""
    table = f"{SCHEMA}.{name}"
    label = " || ' ' || ".join(f"coalesce(cast({column} as varchar), 'null')" for column in key)

    def load(sources: Sources) -> pd.DataFrame | None:
        where = ""
        if recent_days is not None and day_column is not None:
            where = (
                f"where {day_column} > (select max({day_column}) from {table}) "
                f"- interval {recent_days} day"
            )
        return sources.mart(table, f"select *, {label} as label from {table} {where}")

    def build(suite: SuiteBuilder) -> None:
        suite.columns(key)
        column_rules(suite, name)
        suite.not_null(key)
        suite.unique(key)
        rules(suite)

    return Dataset(name=name, layer="mart", description=description, load=load, build=build)


def mart_volume(name: str, day_column: str, min_baseline: float = 50) -> Dataset:
    """The mart's rows on the newest complete day against the median of the days before."""
    table = f"{SCHEMA}.{name}"

    def build(suite: SuiteBuilder) -> None:
        suite.not_null(["grp"])
        suite.volume()

    return Dataset(
        name=f"{name}_volume",
        layer="mart",
        description=f"Rows of {name} per {day_column}",
        load=lambda sources: mart_rows_volume(sources, table, day_column, min_baseline),
        build=build,
    )

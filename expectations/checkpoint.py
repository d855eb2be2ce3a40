"""The mart checkpoint: validate `main.content_daily` in a DuckDB file with Great Expectations.

`run_mart_checkpoint` reads the mart through a short read-only DuckDB connection into pandas,
runs a checkpoint assembled in code on an ephemeral context (pandas data source, whole-frame
batch, one validation definition per suite) and writes the result as JSON:
`<gx dir>/content_daily/latest.json` after every run, plus a timestamped copy under
`<gx dir>/content_daily/failures/` when it fails (the newest 100 are kept), so failures stay
visible after the next run.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from expectations import content_daily

if TYPE_CHECKING:
    import pandas as pd
    from great_expectations.checkpoint.checkpoint import Checkpoint, CheckpointResult
    from great_expectations.data_context import EphemeralDataContext

DATA_SOURCE = "marquee_marts"
CHECKPOINT_NAME = "marts"
KEEP_FAILURES = 100
"""Failed runs kept under failures/; a mart that fails every minute must not fill the disk."""


@dataclasses.dataclass(frozen=True)
class CheckpointSummary:
    """What a checkpoint run found; `failed_expectation_names` names each failing one."""

    success: bool
    evaluated_expectations: int
    failed_expectations: int
    failed_expectation_names: tuple[str, ...] = ()
    results_path: Path | None = None


def read_mart(db_path: Path, table: str = content_daily.TABLE) -> pd.DataFrame:
    """The whole mart table as a pandas frame, read without holding the database open."""
    import duckdb

    with duckdb.connect(str(db_path), read_only=True) as connection:
        return connection.table(table).df()


def run_mart_checkpoint(db_path: Path, results_dir: Path | None = None) -> CheckpointSummary:
    """Validate the mart in `db_path`; results go to `results_dir` (default: the gx dir)."""
    if results_dir is None:
        from marquee.settings import get_settings

        results_dir = get_settings().layout.gx_dir
    frame = read_mart(db_path)
    context = _ephemeral_context()
    checkpoint = _build_checkpoint(context)
    result = checkpoint.run(batch_parameters={"dataframe": frame})
    summary = _summarise(result)
    path = _write_results(result, summary, results_dir / content_daily.SUITE_NAME)
    return dataclasses.replace(summary, results_path=path)


def _ephemeral_context() -> EphemeralDataContext:
    import great_expectations as gx
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False),
    )
    return gx.get_context(mode="ephemeral", project_config=config)


def _build_checkpoint(context: EphemeralDataContext) -> Checkpoint:
    import great_expectations as gx

    asset = context.data_sources.add_pandas(name=DATA_SOURCE).add_dataframe_asset(
        name=content_daily.SUITE_NAME
    )
    batch_definition = asset.add_batch_definition_whole_dataframe(name="whole_table")
    suite = context.suites.add(content_daily.build_suite())
    validation = context.validation_definitions.add(
        gx.ValidationDefinition(name=content_daily.SUITE_NAME, data=batch_definition, suite=suite)
    )
    return context.checkpoints.add(
        gx.Checkpoint(
            name=CHECKPOINT_NAME,
            validation_definitions=[validation],
            result_format={"result_format": "SUMMARY"},
        )
    )


def expectation_name(expectation_type: str, kwargs: dict[str, Any]) -> str:
    """A readable, stable name: the type and the columns it checks."""
    columns: list[str] = []
    for key in ("column", "column_A", "column_B"):
        if kwargs.get(key) is not None:
            columns.append(str(kwargs[key]))
    columns.extend(str(column) for column in kwargs.get("column_list") or ())
    return f"{expectation_type}({', '.join(columns)})" if columns else expectation_type


def _summarise(result: CheckpointResult) -> CheckpointSummary:
    evaluated = 0
    failed: list[str] = []
    for validation in result.run_results.values():
        for expectation in validation.results:
            evaluated += 1
            if not expectation.success:
                config = expectation.expectation_config
                failed.append(expectation_name(config.type, config.kwargs) if config else "unknown")
    return CheckpointSummary(
        success=bool(result.success),
        evaluated_expectations=evaluated,
        failed_expectations=len(failed),
        failed_expectation_names=tuple(failed),
    )


def _write_results(result: CheckpointResult, summary: CheckpointSummary, directory: Path) -> Path:
    now = dt.datetime.now(dt.UTC)
    document = {
        "checkpoint": result.name,
        "run_at": now.isoformat(),
        "success": summary.success,
        "evaluated_expectations": summary.evaluated_expectations,
        "failed_expectations": list(summary.failed_expectation_names),
        "result": result.describe_dict(),
    }
    text = json.dumps(document, indent=2, default=str)
    latest = directory / "latest.json"
    _write_atomically(latest, text)
    if not summary.success:
        failures = directory / "failures"
        _write_atomically(failures / f"{now:%Y%m%dT%H%M%S%fZ}.json", text)
        for old in sorted(failures.glob("*.json"))[:-KEEP_FAILURES]:
            old.unlink(missing_ok=True)
    return latest


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)

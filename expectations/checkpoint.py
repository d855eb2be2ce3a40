"""The checkpoint: every dataset's suite (`expectations.suites`), one report, history, Data Docs.

`run_checkpoint` reads each dataset (`expectations.sources`), validates it with Great
Expectations 1.x on an ephemeral context (a pandas data source, one whole-frame batch and
one validation definition per dataset), and sorts the failures by the severity each
expectation carries: `critical` (the refresh keeps the previous published copy) or
`warning` (it publishes and says so). A required dataset that is missing (a mart dbt did
not build) is a critical failure; a dataset whose reading crashed is one too.

Written under the data directory's `gx/`:
- `latest.json`: the last report (what the Data health page and the refresh show);
- `history/<UTC time>.json`: every report, the newest `KEEP_HISTORY` kept;
- `docs/index.html`: GX Data Docs of the last run (a local, file-backed site; no network).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import math
import os
import re
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from expectations.dataset import Dataset
from expectations.sources import Sources
from marquee.layout import DataLayout

if TYPE_CHECKING:
    from great_expectations.core.expectation_validation_result import (
        ExpectationSuiteValidationResult,
    )
    from great_expectations.data_context import EphemeralDataContext

log = logging.getLogger("expectations.checkpoint")

KEEP_HISTORY = 200
"""Reports kept under gx/history; a refresh every minute keeps a bit over three hours."""
DATA_SOURCE = "marquee"
DOCS_SITE = "marquee_local"
EXAMPLES = 3
"""Failing rows named in a failure's message."""

Verdict = Literal["passed", "warning", "critical"]


@dataclasses.dataclass(frozen=True)
class Failure:
    """One failed expectation, in words."""

    suite: str
    severity: str
    expectation: str
    message: str


@dataclasses.dataclass(frozen=True)
class SuiteOutcome:
    name: str
    layer: str
    description: str
    rows: int | None
    """Rows validated; None when the dataset was absent."""
    evaluated: int
    failures: tuple[Failure, ...] = ()
    duration_s: float = 0.0

    @property
    def success(self) -> bool:
        return not self.failures


@dataclasses.dataclass(frozen=True)
class CheckpointReport:
    run_at: str
    duration_s: float
    suites: tuple[SuiteOutcome, ...]
    docs_index: str | None
    results_path: str | None = None

    @property
    def failures(self) -> list[Failure]:
        return [failure for suite in self.suites for failure in suite.failures]

    @property
    def critical(self) -> list[Failure]:
        return [failure for failure in self.failures if failure.severity == "critical"]

    @property
    def warnings(self) -> list[Failure]:
        return [failure for failure in self.failures if failure.severity != "critical"]

    @property
    def verdict(self) -> Verdict:
        if self.critical:
            return "critical"
        return "warning" if self.warnings else "passed"

    @property
    def evaluated(self) -> int:
        return sum(suite.evaluated for suite in self.suites)

    def failed_suite(self, name: str) -> list[Failure]:
        return [failure for failure in self.failures if failure.suite == name]

    def to_json(self) -> dict[str, Any]:
        return {
            "run_at": self.run_at,
            "duration_s": round(self.duration_s, 2),
            "verdict": self.verdict,
            "evaluated_expectations": self.evaluated,
            "critical_failures": len(self.critical),
            "warning_failures": len(self.warnings),
            "docs_index": self.docs_index,
            "suites": [
                {
                    "name": suite.name,
                    "layer": suite.layer,
                    "description": suite.description,
                    "rows": suite.rows,
                    "evaluated": suite.evaluated,
                    "success": suite.success,
                    "duration_s": round(suite.duration_s, 2),
                    "failures": [dataclasses.asdict(failure) for failure in suite.failures],
                }
                for suite in self.suites
            ],
        }


def run_checkpoint(
    layout: DataLayout,
    warehouse: Path | None = None,
    datasets: list[Dataset] | None = None,
    now_ms: int | None = None,
    build_docs: bool = True,
) -> CheckpointReport:
    """Validate every dataset of `layout` (marts read from `warehouse`, by default the
    build's `dbt.duckdb`) and write the report, its history and the Data Docs."""
    from expectations.suites import all_datasets

    started = time.monotonic()
    run_at = dt.datetime.now(dt.UTC)
    datasets = all_datasets() if datasets is None else datasets
    future_ms, lateness_ms = _horizons_ms()
    sources = Sources(
        layout,
        warehouse or layout.dbt_db,
        future_horizon_ms=future_ms,
        lateness_horizon_ms=lateness_ms,
    )
    if now_ms is not None:
        sources.now_ms = now_ms
    context = _context(layout.gx_dir / "docs" if build_docs else None)
    data_source = context.data_sources.add_pandas(name=DATA_SOURCE)
    outcomes: list[SuiteOutcome] = []
    try:
        for dataset in datasets:
            dataset_started = time.monotonic()
            outcome = _validate(context, data_source, dataset, sources)
            outcomes.append(
                dataclasses.replace(outcome, duration_s=time.monotonic() - dataset_started)
            )
    finally:
        sources.close()
    docs_index = _build_docs(context, layout.gx_dir / "docs") if build_docs else None
    report = CheckpointReport(
        run_at=run_at.isoformat(),
        duration_s=time.monotonic() - started,
        suites=tuple(outcomes),
        docs_index=docs_index,
    )
    path = write_report(report, layout.gx_dir, run_at)
    return dataclasses.replace(report, results_path=str(path))


def _horizons_ms() -> tuple[int, int]:
    """The API's future and lateness horizons, which raw events must respect."""
    from marquee.settings import get_settings

    settings = get_settings()
    return settings.future_horizon_s * 1000, settings.lateness_horizon_s * 1000


def _validate(
    context: EphemeralDataContext, data_source: Any, dataset: Dataset, sources: Sources
) -> SuiteOutcome:
    import great_expectations as gx

    def outcome(rows: int | None, evaluated: int, *failures: Failure) -> SuiteOutcome:
        return SuiteOutcome(
            dataset.name, dataset.layer, dataset.description, rows, evaluated, failures
        )

    try:
        frame = dataset.load(sources)
    except Exception as error:  # a reader that crashes is a finding, not a crash of the run
        log.exception("reading %s failed", dataset.name)
        return outcome(
            None,
            1,
            Failure(
                dataset.name,
                "critical",
                "dataset readable",
                f"reading {dataset.name} failed: {error}",
            ),
        )
    if frame is None:
        if not dataset.required:
            return outcome(None, 0)
        return outcome(
            None,
            1,
            Failure(
                dataset.name,
                "critical",
                "dataset present",
                f"{dataset.name} is missing (not built)",
            ),
        )
    asset = data_source.add_dataframe_asset(name=dataset.name)
    batch = asset.add_batch_definition_whole_dataframe(name="whole")
    suite = context.suites.add(dataset.suite())
    validation = context.validation_definitions.add(
        gx.ValidationDefinition(name=dataset.name, data=batch, suite=suite)
    )
    result_format: dict[str, Any] = {
        "result_format": "SUMMARY",
        "partial_unexpected_count": EXAMPLES,
    }
    if "label" in frame.columns:
        result_format["unexpected_index_column_names"] = ["label"]
    result = validation.run(batch_parameters={"dataframe": frame}, result_format=result_format)
    return outcome(len(frame), len(result.results), *_failures(dataset.name, result, len(frame)))


def _failures(name: str, result: ExpectationSuiteValidationResult, rows: int) -> list[Failure]:
    found = []
    for expectation in result.results:
        if expectation.success:
            continue
        config = expectation.expectation_config
        description = (config.description if config else None) or (config.type if config else "?")
        severity = str(getattr(config.severity, "value", config.severity)) if config else "critical"
        found.append(
            Failure(
                name,
                severity,
                description,
                failure_message(
                    name, description, expectation.result, expectation.exception_info, rows
                ),
            )
        )
    return found


def failure_message(
    suite: str, description: str, result: dict[str, Any], exception: Any, rows: int
) -> str:
    """`<suite>: <rule> failed: <how many rows>, e.g. <rows>` or the observed value."""
    prefix = f"{suite}: {description} failed"
    raised = _exception_message(exception)
    if raised:
        return f"{prefix}: {str(raised).splitlines()[0]}"
    details = (result or {}).get("details") or {}
    if "mismatched" in details:
        mismatched = details["mismatched"]
        parts = [
            f"{key} {', '.join(map(str, values))}" for key, values in mismatched.items() if values
        ]
        return f"{prefix}: columns {'; '.join(parts)}"
    count = (result or {}).get("unexpected_count")
    if count is not None:
        examples = (
            (result or {}).get("partial_unexpected_index_list")
            or (result or {}).get("partial_unexpected_list")
            or []
        )
        shown = "; ".join(_example(example) for example in examples[:EXAMPLES])
        return f"{prefix}: {count} of {rows} rows" + (f", e.g. {shown}" if shown else "")
    observed = (result or {}).get("observed_value")
    return f"{prefix}: observed {observed}" if observed is not None else prefix


def _exception_message(exception: Any) -> str | None:
    """The first message of GX's exception info: flat, or keyed by metric in GX 1.x."""
    if not isinstance(exception, dict):
        return None
    if exception.get("exception_message"):
        return str(exception["exception_message"])
    for value in exception.values():
        if isinstance(value, dict) and value.get("exception_message"):
            return str(value["exception_message"])
    return None


def _example(example: Any) -> str:
    if isinstance(example, dict):
        label = example.get("label")
        values = ", ".join(
            f"{key}={'null' if _plain(value) is None else _plain(value)}"
            for key, value in example.items()
            if key != "label" and str(_plain(value)) not in _tokens(label)
        )
        if label is None:
            return values
        return f"{label} ({values})" if values else str(label)
    return str(_plain(example))


def _tokens(label: object) -> set[str]:
    """The words of a row's label: a value already among them is not repeated."""
    return set(re.split(r"[\s:,()]+", str(label))) if label is not None else set()


def _plain(value: Any) -> Any:
    """A value as a reader would write it: 4 not 4.0 or np.int64(4), null not nan."""
    if isinstance(value, tuple):
        return tuple(_plain(item) for item in value)
    value = value.item() if hasattr(value, "item") else value
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if value.is_integer():
            return int(value)
    return value


def _context(docs_dir: Path | None) -> EphemeralDataContext:
    import great_expectations as gx
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    sites = {}
    if docs_dir is not None:
        sites[DOCS_SITE] = {
            "class_name": "SiteBuilder",
            "store_backend": {
                "class_name": "TupleFilesystemStoreBackend",
                "base_directory": str(docs_dir),
            },
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        }
    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False),
        data_docs_sites=sites,
    )
    return gx.get_context(mode="ephemeral", project_config=config)


def _build_docs(context: EphemeralDataContext, docs_dir: Path) -> str | None:
    """Render the run's suites and results into `docs_dir` (the previous run's validation
    pages are removed first: the history keeps the reports, the docs show the last run)."""
    shutil.rmtree(docs_dir / "validations", ignore_errors=True)
    try:
        context.build_data_docs(site_names=[DOCS_SITE])
    except Exception:
        log.exception("building Data Docs failed")
        return None
    index = docs_dir / "index.html"
    return str(index) if index.exists() else None


def write_report(report: CheckpointReport, gx_dir: Path, run_at: dt.datetime) -> Path:
    """`latest.json` and `history/<time>.json` (the newest KEEP_HISTORY kept)."""
    text = json.dumps(report.to_json(), indent=1, default=str)
    history = gx_dir / "history"
    _write_atomically(history / f"{run_at:%Y%m%dT%H%M%S%fZ}.json", text)
    for old in sorted(history.glob("*.json"))[:-KEEP_HISTORY]:
        old.unlink(missing_ok=True)
    latest = gx_dir / "latest.json"
    _write_atomically(latest, text)
    return latest


def read_latest_report(gx_dir: Path) -> dict[str, Any] | None:
    """The last report as written, or None before the first run."""
    try:
        return dict(json.loads((gx_dir / "latest.json").read_text()))
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)

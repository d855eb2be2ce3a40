"""Where everything local lives, below one data directory (MARQUEE_DATA_DIR).

One place names every path so that the API, the pipeline, dbt, the expectations and the
dashboards agree on them without passing paths around.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class DataLayout:
    """Paths below the data directory; `ensure()` creates the folders."""

    root: Path

    @property
    def log_dir(self) -> Path:
        """Segment files of the event log: `*.open` being written, `*.seg` sealed."""
        return self.root / "log"

    @property
    def quarantine_dir(self) -> Path:
        """Rejected events and bodies with their reason (a segment log of its own)."""
        return self.root / "quarantine"

    @property
    def lake_dir(self) -> Path:
        """Immutable Parquet outputs of the pipeline, one file per committed run and table."""
        return self.root / "lake"

    def lake_table_dir(self, table: str) -> Path:
        return self.lake_dir / table

    @property
    def state_db(self) -> Path:
        """The pipeline's own DuckDB file: run ledger and deduplication state."""
        return self.root / "state" / "pipeline.duckdb"

    @property
    def pipeline_status(self) -> Path:
        """A JSON summary the pipeline rewrites after each commit, for status displays.

        Readers use it instead of opening the state DuckDB file, whose lock the pipeline
        needs.
        """
        return self.root / "state" / "pipeline_status.json"

    @property
    def refresh_status(self) -> Path:
        """A JSON record of the refresh loop's last cycle: what built, what failed, whether
        it published (`refresh.build_report`)."""
        return self.root / "state" / "refresh_status.json"

    @property
    def warehouse_dir(self) -> Path:
        return self.root / "warehouse"

    @property
    def dbt_db(self) -> Path:
        """The DuckDB file dbt builds into (only the build loop opens it)."""
        return self.warehouse_dir / "dbt.duckdb"

    @property
    def serving_db(self) -> Path:
        """A copy of dbt.duckdb published after each good build; dashboards read it."""
        return self.warehouse_dir / "serving.duckdb"

    @property
    def dbt_artifacts(self) -> Path:
        """dbt's target/ and logs/ for this data directory, so runs on different data never
        share partial-parse state and nothing generated lands in the source tree."""
        return self.root / "dbt"

    @property
    def gx_dir(self) -> Path:
        """Great Expectations validation results."""
        return self.root / "gx"

    @property
    def alerts_dir(self) -> Path:
        """The alert evaluator's state (`state.json`: which rules fire, notifications not yet
        delivered) and its history of notifications (`history.jsonl`, one JSON per line)."""
        return self.root / "alerts"

    @property
    def alert_history(self) -> Path:
        """Every firing and resolved notification, appended; the dashboards list it."""
        return self.alerts_dir / "history.jsonl"

    @property
    def catalog_dir(self) -> Path:
        """File drop for catalogue records (creators.json, content.json)."""
        return self.root / "catalog"

    @property
    def catalog_content_file(self) -> Path:
        """The content catalogue: a JSON array of content records."""
        return self.catalog_dir / "content.json"

    def ensure(self) -> DataLayout:
        for path in (
            self.log_dir,
            self.quarantine_dir,
            self.lake_dir,
            self.state_db.parent,
            self.warehouse_dir,
            self.gx_dir,
            self.catalog_dir,
        ):
            path.mkdir(parents=True, exist_ok=True)
        return self

"""`python -m expectations [--data-dir D] [--warehouse W]`: run the checkpoint once.

Validates the data directory's raw events, lake and marts (by default the published
`serving.duckdb`; the refresh loop checks `dbt.duckdb` before publishing), prints each
failure with its severity, writes the report and Data Docs under `<data dir>/gx/`, and
exits 0 when every expectation passed, 1 on warnings only, 2 on a critical failure.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from expectations.checkpoint import CheckpointReport, run_checkpoint
from marquee.layout import DataLayout

EXIT_CODES = {"passed": 0, "warning": 1, "critical": 2}


def summary_lines(report: CheckpointReport) -> list[str]:
    """The report in a few lines: the verdict, then one line per failure."""
    lines = [
        f"expectations: {report.verdict.upper()}: {len(report.suites)} suites, "
        f"{report.evaluated} expectations, {len(report.critical)} critical and "
        f"{len(report.warnings)} warning failures in {report.duration_s:.1f}s"
    ]
    lines.extend(f"  [{failure.severity}] {failure.message}" for failure in report.failures)
    if report.docs_index:
        lines.append(f"  Data Docs: {report.docs_index}")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m expectations", description=__doc__)
    parser.add_argument("--data-dir", type=Path, default=None, help="default: MARQUEE_DATA_DIR")
    parser.add_argument(
        "--warehouse", type=Path, default=None, help="default: <data dir>/warehouse/serving.duckdb"
    )
    parser.add_argument("--no-docs", action="store_true", help="skip rendering Data Docs")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("great_expectations").setLevel(logging.ERROR)
    if args.data_dir is not None:
        layout = DataLayout(args.data_dir)
    else:
        from marquee.settings import get_settings

        layout = get_settings().layout
    report = run_checkpoint(
        layout, warehouse=args.warehouse or layout.serving_db, build_docs=not args.no_docs
    )
    print("\n".join(summary_lines(report)))
    return EXIT_CODES[report.verdict]


if __name__ == "__main__":
    sys.exit(main())

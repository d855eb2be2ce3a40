"""The expectations checkpoint over a day of simulated data for 1,000 creators (target: under
60 s), against a trivial baseline in the same run.

The data: `python -m tools.history --days 1 --creators 1000` (about 1.9M events: event log,
quarantine, lake) and one `python -m refresh --once` (dbt build), cached under
`.bench-cache/checkpoint-1d-1000c-s1` after the first run (a few minutes).

Figures:
- `checkpoint_s`: `run_checkpoint` in this process (Great Expectations imported already, as
  in the refresh loop after its first cycle), every suite, Data Docs included;
- `command_s`: `python -m expectations` as a fresh process (GX's import included);
- `baseline_s`: the floor: the same datasets read, and each numeric column of each frame
  checked for a negative value in pandas, no GX; `checkpoint_vs_baseline` is the ratio.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from marquee.layout import DataLayout
from marquee.settings import PROJECT_ROOT

CACHE = PROJECT_ROOT / ".bench-cache" / "checkpoint-1d-1000c-s1"
READY = "checkpoint-bench-ready"
CREATORS = 1000
TARGET_S = 60.0


def _run(data_dir: Path, *command: str) -> None:
    subprocess.run(
        [sys.executable, "-m", *command],
        cwd=PROJECT_ROOT,
        env={**os.environ, "MARQUEE_DATA_DIR": str(data_dir)},
        check=True,
    )


def ensure_data(data_dir: Path = CACHE, workers: int = 2) -> DataLayout:
    """The day of simulated data with its dbt build, made once."""
    layout = DataLayout(data_dir)
    if (data_dir / READY).exists():
        return layout
    if not layout.pipeline_status.exists():
        _run(
            data_dir,
            "tools.history",
            "--days",
            "1",
            "--creators",
            str(CREATORS),
            "--workers",
            str(workers),
        )
    subprocess.run(
        [sys.executable, "-m", "refresh", "--once"],
        cwd=PROJECT_ROOT,
        env={**os.environ, "MARQUEE_DATA_DIR": str(data_dir)},
        check=False,  # 2 when a dbt data test warns or fails; the build is what matters
    )
    (data_dir / READY).write_text("built\n")
    return layout


def baseline_s(layout: DataLayout) -> float:
    """Read every dataset as the checkpoint does and look for a negative number in each."""
    from expectations.sources import Sources
    from expectations.suites import all_datasets

    started = time.perf_counter()
    sources = Sources(layout, layout.dbt_db)
    try:
        for dataset in all_datasets():
            frame = dataset.load(sources)
            if frame is not None:
                numbers = frame.select_dtypes("number")
                bool((numbers < 0).any().any())
    finally:
        sources.close()
    return time.perf_counter() - started


def run(data_dir: Path = CACHE) -> dict[str, float]:
    import logging

    logging.getLogger("great_expectations").setLevel(logging.ERROR)
    layout = ensure_data(data_dir)
    import great_expectations  # noqa: F401  # imported once, as in the refresh loop

    from expectations import run_checkpoint

    floor = baseline_s(layout)
    started = time.perf_counter()
    report = run_checkpoint(layout, layout.dbt_db)
    checkpoint = time.perf_counter() - started
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "expectations", "--data-dir", str(layout.root),
         "--warehouse", str(layout.dbt_db)],
        cwd=PROJECT_ROOT,
        check=False,
        capture_output=True,
    )  # fmt: skip
    command = time.perf_counter() - started
    return {
        "suites": float(len(report.suites)),
        "expectations": float(report.evaluated),
        "rows_checked": float(sum(suite.rows or 0 for suite in report.suites)),
        "failures": float(len(report.failures)),
        "checkpoint_s": checkpoint,
        "command_s": command,
        "baseline_s": floor,
        "checkpoint_vs_baseline": checkpoint / floor,
        "target_s": TARGET_S,
    }


def main() -> None:
    from benchmarks import show

    show("expectations checkpoint: 1 day x 1,000 creators vs reading the data", run())


if __name__ == "__main__":
    main()

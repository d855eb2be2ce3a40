"""The refresh loop: build the marts, check them, publish a snapshot for the dashboards.

Every cycle (about once a minute in the demo):

1. `dbt build` of the project in `dbt/` on the local DuckDB target: the staging models read
   the Parquet files of the runs the pipeline has committed under `$MARQUEE_DATA_DIR/lake/`,
   the marts are rebuilt in `warehouse/dbt.duckdb` (incremental ones over what changed
   since their last build only) and every data test runs (on incremental models over the
   rows the build wrote, once the loop has had a passing build; the first build of a
   warehouse is a full refresh).
2. The Great Expectations checkpoint (`expectations.run_mart_checkpoint`) on the marts;
   results land as JSON under `$MARQUEE_DATA_DIR/gx/`.
3. Publish: copy `dbt.duckdb` to `serving.duckdb` under a temporary name, fsync, rename.
   Dashboards only ever open `serving.duckdb`, so they never wait for dbt's write lock and
   never see a half-built warehouse. A failed build is never published; a failed checkpoint
   is published (the data passed dbt's tests) but logged loudly.

Run it with `python -m marquee.refresh` (every 60 s until Ctrl-C or SIGTERM) or
`python -m marquee.refresh --once`, which exits 1 when dbt build fails and 2 when the
snapshot was published but the checkpoint failed. The loop runs every build in one
long-lived dbt worker process (`marquee.dbt_worker`: dbt imported and the project parsed
once, about 5 s less per cycle); `--once` runs the `dbt` command.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from marquee.dbt_cli import DbtBuildResult, dbt_artifacts_dir, run_dbt_build
from marquee.dbt_worker import DbtWorker
from marquee.durable import replace_durably
from marquee.lake import ensure_lake
from marquee.layout import DataLayout
from marquee.settings import get_settings

DbtBuild = Callable[..., DbtBuildResult]
"""`dbt build [args]` for one data directory: a one-off `dbt` command
(`run_dbt_build`) or the loop's long-lived worker (`DbtWorker.build`)."""


log = logging.getLogger("marquee.refresh")


@dataclass(frozen=True)
class CycleResult:
    dbt_ok: bool
    checks_ok: bool | None
    published: bool

    @property
    def exit_code(self) -> int:
        if not self.dbt_ok:
            return 1
        if not self.checks_ok:
            return 2
        return 0


REFRESH_EXCLUDES = ("--exclude-resource-type", "unit_test")
"""The refresh loop's builds leave out dbt's unit tests: they test the models' SQL on fixed
rows, not the data, so they cannot fail on one cycle and pass on the next; `make test`
runs them (tests/test_dbt_build.py builds without this). Over a month of history they were
6 of the 89 node-seconds of every cycle."""


TEST_ALL_ROWS = ("--vars", '{"marquee_test_all_rows": true}')
"""Data tests over every row of the incremental models, not only the rows the build wrote
(dbt/macros/test_window.sql)."""


def refresh_build_args(layout: DataLayout, test_all_rows: bool = True) -> list[str]:
    """The refresh loop's `dbt build` arguments: `--full-refresh` for the first build of a
    warehouse, a plain build after; never the unit tests (REFRESH_EXCLUDES).

    A plain build's data tests check only the rows of the incremental models that it wrote
    (dbt/macros/test_window.sql); the rows an earlier build wrote were checked then, but
    only if that build passed. `test_all_rows` (TEST_ALL_ROWS) makes the build test every
    row: the loop asks for it on its first build and after a failed one, and `--once`
    always. A full refresh writes, and so tests, every row anyway.
    """
    if not layout.dbt_db.exists():
        return ["--full-refresh", *REFRESH_EXCLUDES]
    return [*(TEST_ALL_ROWS if test_all_rows else ()), *REFRESH_EXCLUDES]


def publish_snapshot(layout: DataLayout) -> int:
    """Copy dbt.duckdb to serving.duckdb atomically; returns the size in bytes.

    Readers that have the old snapshot open keep reading it (the rename swaps the directory
    entry, not the file they hold).
    """
    source = layout.dbt_db
    _fold_wal_into(source)
    target = layout.serving_db
    tmp = target.with_name(f".{target.name}.tmp")
    with source.open("rb") as reader, tmp.open("wb") as writer:
        shutil.copyfileobj(reader, writer, length=1024 * 1024)
        writer.flush()
        os.fsync(writer.fileno())
    replace_durably(tmp, target)
    return target.stat().st_size


def _fold_wal_into(database: Path) -> None:
    """Checkpoint a leftover write-ahead log, so the database file alone is complete."""
    wal = database.with_name(database.name + ".wal")
    if not wal.exists():
        return
    import duckdb

    with duckdb.connect(str(database)) as connection:
        connection.execute("checkpoint")


def refresh_once(
    layout: DataLayout,
    stop: threading.Event | None = None,
    dbt_build: DbtBuild | None = None,
    test_all_rows: bool = True,
) -> CycleResult:
    """One cycle: dbt build, checkpoint, publish; each step logs one line with its duration.

    `dbt_build` runs the build; by default a one-off `dbt` command (`--once`).
    `test_all_rows`: see refresh_build_args.
    """
    stop = stop or threading.Event()
    dbt_build = dbt_build or (lambda *args: run_dbt_build(layout, *args))
    layout.ensure()
    ensure_lake(layout)

    build = dbt_build(*refresh_build_args(layout, test_all_rows))
    if not build.success:
        if stop.is_set():
            log.warning("dbt build interrupted after %.1fs", build.duration_s)
        else:
            log.error(
                "dbt build FAILED in %.1fs (%s); serving.duckdb not updated; log: %s\n%s",
                build.duration_s,
                build.summary,
                dbt_artifacts_dir(layout) / "logs" / "dbt.log",
                build.tail(),
            )
        return CycleResult(dbt_ok=False, checks_ok=None, published=False)
    log.info("dbt build ok in %.1fs (%s)", build.duration_s, build.summary)
    if stop.is_set():
        return CycleResult(dbt_ok=True, checks_ok=None, published=False)

    checks_ok = run_checks(layout)
    if stop.is_set():
        return CycleResult(dbt_ok=True, checks_ok=checks_ok, published=False)

    started = time.monotonic()
    size = publish_snapshot(layout)
    log.info(
        "published %s (%.1f MB) in %.2fs",
        layout.serving_db,
        size / 1e6,
        time.monotonic() - started,
    )
    return CycleResult(dbt_ok=True, checks_ok=checks_ok, published=True)


def run_checks(layout: DataLayout) -> bool:
    """Run the mart checkpoint; a failure (or a crash of the checker) is logged, not raised,
    because the build already passed dbt's tests and the dashboards should still refresh."""
    started = time.monotonic()
    try:
        from expectations import run_mart_checkpoint

        summary = run_mart_checkpoint(layout.dbt_db, results_dir=layout.gx_dir)
    except Exception:
        log.exception(
            "!!! expectations checkpoint CRASHED after %.1fs; publishing anyway",
            time.monotonic() - started,
        )
        return False
    duration = time.monotonic() - started
    if summary.success:
        log.info(
            "expectations checkpoint ok in %.1fs (%d expectations)",
            duration,
            summary.evaluated_expectations,
        )
        return True
    log.error(
        "!!! expectations checkpoint FAILED in %.1fs: %d of %d failed: %s; results: %s; "
        "publishing anyway",
        duration,
        summary.failed_expectations,
        summary.evaluated_expectations,
        ", ".join(summary.failed_expectation_names),
        summary.results_path,
    )
    return False


def run_forever(layout: DataLayout, interval_s: float, stop: threading.Event) -> None:
    """Start a cycle every `interval_s` seconds (or right after a longer one) until `stop`.

    Every build runs in one long-lived dbt worker (`marquee.dbt_worker`), so only the first
    pays for importing dbt and parsing the project. A build after a passing one tests only
    the rows it wrote; the first, and the one after a failure, test every row.
    """
    last_build_passed = False
    with DbtWorker(layout) as worker:
        while not stop.is_set():
            started = time.monotonic()
            try:
                cycle = refresh_once(
                    layout, stop, worker.build, test_all_rows=not last_build_passed
                )
                last_build_passed = cycle.dbt_ok
            except Exception:
                # Keep the loop alive through a transient fault (disk full, dbt missing for
                # a moment during an upgrade); the next cycle starts from scratch.
                last_build_passed = False
                log.exception("refresh cycle crashed; retrying at the next interval")
            stop.wait(max(0.0, interval_s - (time.monotonic() - started)))
    log.info("refresh loop stopped")


def _install_stop_handlers(stop: threading.Event) -> None:
    def request_stop(signum: int, _frame: FrameType | None) -> None:
        log.info("%s received; stopping after the current step", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m marquee.refresh",
        description="Build the dbt marts, check them and publish serving.duckdb.",
    )
    parser.add_argument("--once", action="store_true", help="run one cycle and exit")
    parser.add_argument(
        "--interval-s", type=float, default=60.0, help="seconds between cycle starts"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stdout,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # Great Expectations logs every registered API function at INFO.
    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    layout = get_settings().layout
    stop = threading.Event()
    _install_stop_handlers(stop)
    log.info("data directory %s", layout.root)
    if args.once:
        return refresh_once(layout, stop).exit_code
    run_forever(layout, args.interval_s, stop)
    return 0


if __name__ == "__main__":
    sys.exit(main())

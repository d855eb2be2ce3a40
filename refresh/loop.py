"""The refresh loop: build the marts, check them, publish a snapshot for the dashboards.

Every cycle (about once a minute in the demo):

1. Build every model (`dbt build` of the models only) in `warehouse/dbt.duckdb` on the
   local DuckDB target: the staging models read the Parquet files of the runs the pipeline
   has committed under `$MARQUEE_DATA_DIR/lake/`, the marts are rebuilt (incremental ones
   over what changed since their last build; the first build of a warehouse is a full
   refresh).
2. Run every data test (a second `dbt build` of the tests only; on incremental models
   over the rows the build wrote, once the loop has had a clean cycle).
3. The Great Expectations checkpoint (`expectations.run_mart_checkpoint`) on the marts;
   results land as JSON under `$MARQUEE_DATA_DIR/gx/`.
4. Publish: copy `dbt.duckdb` to `serving.duckdb` under a temporary name, fsync, rename.
   Dashboards only ever open `serving.duckdb`, so they never wait for dbt's write lock and
   never see a half-built warehouse.

No row can freeze the dashboards: models and tests run as separate passes, so a failing
data test never keeps a model from building, and a model that fails keeps its previous
table while every other model builds. The cycle publishes whatever it built and says what
failed: in its output, in the exit code of `--once`, and in `state/refresh_status.json`
(`refresh.build_report`), which the dashboards show. Only a cycle in which dbt ran no node
at all (a project that does not parse, an interrupted build) publishes nothing.

Run it with `python -m refresh` (every 60 s until Ctrl-C or SIGTERM) or
`python -m refresh --once`, which exits 0 when everything passed, 1 when a model
failed, 2 when a data test or the checkpoint failed (the snapshot was published in both
cases), and 3 when nothing was built or published. The loop runs every build in one
long-lived dbt worker process (`refresh.dbt_worker`: dbt imported and the project parsed
once, not every cycle); `--once` runs the `dbt` command.
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

from marquee.durable import replace_durably
from marquee.lake import ensure_lake
from marquee.layout import DataLayout
from marquee.settings import get_settings
from refresh.build_report import NodeProblem, PassResults, RefreshStatus, read_pass_results
from refresh.dbt_cli import DbtBuildResult, run_dbt_build
from refresh.dbt_worker import DbtWorker

DbtBuild = Callable[..., DbtBuildResult]
"""`dbt build [args]` for one data directory: a one-off `dbt` command
(`run_dbt_build`) or the loop's long-lived worker (`DbtWorker.build`)."""


log = logging.getLogger("refresh.loop")


@dataclass(frozen=True)
class CycleResult:
    models_ok: bool
    """Every model built (False also when dbt ran none)."""
    tests_ok: bool | None
    """Every data test passed or only warned; None when they did not run."""
    checks_ok: bool | None
    published: bool

    @property
    def clean(self) -> bool:
        """Everything built and every test and check passed."""
        return self.models_ok and bool(self.tests_ok) and bool(self.checks_ok)

    @property
    def exit_code(self) -> int:
        if not self.published:
            return 3
        if not self.models_ok:
            return 1
        if not (self.tests_ok and self.checks_ok):
            return 2
        return 0


MODELS_ONLY = ("--exclude-resource-type", "test", "--exclude-resource-type", "unit_test")
"""The first pass: every model, no tests. dbt's unit tests test the models' SQL on fixed
rows, not the data, so they cannot fail on one cycle and pass on the next; `make test` runs
them (tests/test_dbt_build.py builds without this)."""

DATA_TESTS_ONLY = ("--resource-type", "test")
"""The second pass: every data test, after every model built."""

TEST_ALL_ROWS = ("--vars", '{"marquee_test_all_rows": true}')
"""Data tests over every row of the incremental models, not only the rows the build wrote
(dbt/macros/test_window.sql)."""


def refresh_build_args(layout: DataLayout) -> list[str]:
    """The model pass's arguments: `--full-refresh` for the first build of a warehouse, a
    plain build after."""
    if not layout.dbt_db.exists():
        return ["--full-refresh", *MODELS_ONLY]
    return list(MODELS_ONLY)


def refresh_test_args(test_all_rows: bool) -> list[str]:
    """The test pass's arguments. A plain build's data tests check only the rows of the
    incremental models that it wrote (dbt/macros/test_window.sql); the rows an earlier
    build wrote were checked then, but only clean if that cycle was clean.
    `test_all_rows` (TEST_ALL_ROWS) tests every row: the loop asks for it on its first
    cycle and after one that was not clean, and `--once` always."""
    return [*DATA_TESTS_ONLY, *(TEST_ALL_ROWS if test_all_rows else ())]


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


def model_results_path(layout: DataLayout) -> Path:
    """dbt's run_results.json of the last cycle's model pass (the test pass keeps dbt's
    own name)."""
    return layout.dbt_artifacts / "target" / "run_results.models.json"


def refresh_once(
    layout: DataLayout,
    stop: threading.Event | None = None,
    dbt_build: DbtBuild | None = None,
    test_all_rows: bool = True,
) -> CycleResult:
    """One cycle: build the models, test them, check, publish; each step logs one line
    with its duration, and the cycle is recorded in `state/refresh_status.json`.

    `dbt_build` runs a `dbt build`; by default a one-off `dbt` command (`--once`).
    `test_all_rows`: see refresh_test_args.
    """
    stop = stop or threading.Event()
    dbt_build = dbt_build or (lambda *args: run_dbt_build(layout, *args))
    layout.ensure()
    ensure_lake(layout)
    started_at_ms = int(time.time() * 1000)
    run_results = layout.dbt_artifacts / "target" / "run_results.json"

    run_results.unlink(missing_ok=True)
    models_build = dbt_build(*refresh_build_args(layout))
    models = read_pass_results(run_results)
    if models.ran:  # kept beside the test pass's, which replaces it
        shutil.copyfile(run_results, model_results_path(layout))
    if stop.is_set() or not models.ran:
        if stop.is_set():
            log.warning("dbt build interrupted after %.1fs", models_build.duration_s)
        else:
            log.error(
                "dbt built NOTHING in %.1fs (%s); serving.duckdb not updated; log: %s\n%s",
                models_build.duration_s,
                models_build.summary,
                layout.dbt_artifacts / "logs" / "dbt.log",
                models_build.tail(),
            )
            status = _status(started_at_ms, models, PassResults(), False, None, False)
            status.write(layout.refresh_status)
        return CycleResult(models_ok=False, tests_ok=None, checks_ok=None, published=False)
    _log_models(models, models_build)

    run_results.unlink(missing_ok=True)
    tests_build = dbt_build(*refresh_test_args(test_all_rows))
    tests = read_pass_results(run_results)
    failures = tests.with_status("fail", "error")
    tests_ok = tests.ran and not failures
    _log_tests(tests, failures, tests_build)
    if stop.is_set():
        return CycleResult(models_build.success, None, None, published=False)

    checks_ok = run_checks(layout)
    if stop.is_set():
        return CycleResult(models_build.success, tests_ok, checks_ok, published=False)

    started = time.monotonic()
    size = publish_snapshot(layout)
    log.info(
        "published %s (%.1f MB) in %.2fs%s",
        layout.serving_db,
        size / 1e6,
        time.monotonic() - started,
        "" if models_build.success and tests_ok else " WITH FAILURES (see above)",
    )
    status = _status(started_at_ms, models, tests, test_all_rows, checks_ok, True)
    status.write(layout.refresh_status)
    return CycleResult(models_build.success, tests_ok, checks_ok, published=True)


def _status(
    started_at_ms: int,
    models: PassResults,
    tests: PassResults,
    test_all_rows: bool,
    checks_ok: bool | None,
    published: bool,
) -> RefreshStatus:
    return RefreshStatus(
        started_at_ms=started_at_ms,
        finished_at_ms=int(time.time() * 1000),
        models_built=models.succeeded,
        model_errors=models.problems,
        models_skipped=models.skipped,
        tests_passed=tests.succeeded,
        test_failures=tests.with_status("fail", "error"),
        test_warnings=tests.with_status("warn"),
        tested_all_rows=test_all_rows,
        checks_ok=checks_ok,
        published=published,
    )


def _log_models(models: PassResults, build: DbtBuildResult) -> None:
    if build.success:
        log.info("dbt models ok in %.1fs (%s)", build.duration_s, build.summary)
        return
    log.error(
        "!!! dbt models FAILED in %.1fs (%s): %s; skipped: %s; they keep their last "
        "build, every other model is published\n%s",
        build.duration_s,
        build.summary,
        ", ".join(f"{p.name} ({p.message})" for p in models.problems) or "see the log",
        ", ".join(models.skipped) or "none",
        build.tail(),
    )


def _log_tests(tests: PassResults, failures: list[NodeProblem], build: DbtBuildResult) -> None:
    if not failures and tests.ran:
        log.info("dbt tests ok in %.1fs (%s)", build.duration_s, build.summary)
        return
    if not tests.ran:
        log.error("!!! dbt tests did NOT RUN (%s)\n%s", build.summary, build.tail())
        return
    log.error(
        "!!! dbt tests FAILED in %.1fs (%s): %s; publishing anyway",
        build.duration_s,
        build.summary,
        ", ".join(
            f"{p.name} ({p.failing_rows} failing)" if p.failing_rows is not None else p.name
            for p in failures
        ),
    )


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

    Every build runs in one long-lived dbt worker (`refresh.dbt_worker`), so only the first
    pays for importing dbt and parsing the project. A cycle after a clean one tests only
    the rows it wrote; the first, and the one after a failure, test every row.
    """
    last_cycle_clean = False
    with DbtWorker(layout) as worker:
        while not stop.is_set():
            started = time.monotonic()
            try:
                cycle = refresh_once(layout, stop, worker.build, test_all_rows=not last_cycle_clean)
                last_cycle_clean = cycle.models_ok and bool(cycle.tests_ok)
            except Exception:
                # Keep the loop alive through a transient fault (disk full, dbt missing for
                # a moment during an upgrade); the next cycle starts from scratch.
                last_cycle_clean = False
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
        prog="python -m refresh",
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

"""The refresh loop: build the marts, check them, publish a snapshot for the dashboards.

Every cycle (about once a minute in the demo):

1. Build every model (`dbt build` of the models only) in `warehouse/dbt.duckdb` on the
   local DuckDB target: the staging models read the Parquet files of the runs the pipeline
   has committed under `$MARQUEE_DATA_DIR/lake/`, the marts are rebuilt (incremental ones
   over what changed since their last build; the first build of a warehouse is a full
   refresh).
2. Run every data test (a second `dbt build` of the tests only; on incremental models
   over the rows the build wrote, once the loop has had a clean cycle).
3. The Great Expectations checkpoint (`expectations.run_checkpoint`) on the raw events, the
   lake and the marts just built; its report, history and Data Docs land under
   `$MARQUEE_DATA_DIR/gx/`.
4. Publish: copy `dbt.duckdb` to `serving.duckdb` under a temporary name, fsync, rename.
   Dashboards only ever open `serving.duckdb`, so they never wait for dbt's write lock and
   never see a half-built warehouse. A `critical` expectation failure skips this step: the
   dashboards keep the previous published copy, and the output and the status say so; a
   `warning` failure publishes with a warning.

No row can freeze the dashboards: models and tests run as separate passes, so a failing
data test never keeps a model from building, and a model that fails keeps its previous
table while every other model builds. The cycle publishes whatever it built and says what
failed: in its output, in the exit code of `--once`, and in `state/refresh_status.json`
(`refresh.build_report`), which the dashboards show. A cycle in which dbt ran no node at
all (a project that does not parse, an interrupted build) publishes nothing, nor does one
whose data broke a critical expectation.

Run it with `python -m refresh` (every 60 s until Ctrl-C or SIGTERM) or
`python -m refresh --once`, which exits 0 when everything passed, 1 when a model
failed, 2 when a data test or the checkpoint failed (the snapshot was published, unless a
critical expectation failed), and 3 when nothing was built. The loop runs every build in one
long-lived dbt worker process (`refresh.dbt_worker`: dbt imported and the project parsed
once, not every cycle); `--once` runs the `dbt` command. The loop runs the checkpoint in a
child process too (`refresh.checkpoint_worker`: replaced every few runs, so that neither
process's memory grows cycle after cycle); `--once` runs it in its own process.
"""

from __future__ import annotations

import argparse
import dataclasses
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

from expectations import CheckpointReport
from marquee.backoff import Backoff
from marquee.durable import replace_durably
from marquee.lake import ensure_lake
from marquee.layout import DataLayout
from marquee.settings import get_settings
from refresh.build_report import NodeProblem, PassResults, RefreshStatus, read_pass_results
from refresh.catalogue_watch import CatalogueWatch
from refresh.checkpoint_worker import CheckpointWorker
from refresh.dbt_cli import DbtBuildResult, run_dbt_build
from refresh.dbt_worker import DbtWorker
from refresh.erasure import run_erasures
from refresh.logs import configure_logging

DbtBuild = Callable[..., DbtBuildResult]
"""`dbt build [args]` for one data directory: a one-off `dbt` command
(`run_dbt_build`) or the loop's long-lived worker (`DbtWorker.build`)."""

Checkpoint = Callable[[Path], CheckpointReport]
"""The expectations checkpoint on a warehouse: in this process (`--once`) or in the loop's
checkpoint worker (`CheckpointWorker.run`)."""


log = logging.getLogger("refresh.loop")


@dataclass(frozen=True)
class CycleResult:
    models_ok: bool
    """Every model built (False also when dbt ran none)."""
    tests_ok: bool | None
    """Every data test passed or only warned; None when they did not run."""
    checks_ok: bool | None
    published: bool
    kept_previous_copy: bool = False
    """A critical expectation failed: serving.duckdb was left as it was."""

    @property
    def clean(self) -> bool:
        """Everything built and every test and check passed."""
        return self.models_ok and bool(self.tests_ok) and bool(self.checks_ok)

    @property
    def exit_code(self) -> int:
        if self.kept_previous_copy:
            return 2
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
    catalogue: CatalogueWatch | None = None,
    checkpoint: Checkpoint | None = None,
) -> CycleResult:
    """One cycle: build the models, test them, check, publish; each step logs one line
    with its duration, and the cycle is recorded in `state/refresh_status.json`.

    `dbt_build` runs a `dbt build`; by default a one-off `dbt` command (`--once`).
    `test_all_rows`: see refresh_test_args. `catalogue`: the loop's watch of the catalogue
    files, to skip rebuilding their tables while they are unchanged. `checkpoint` runs the
    expectations checkpoint; by default in this process.
    """
    stop = stop or threading.Event()
    dbt_build = dbt_build or (lambda *args: run_dbt_build(layout, *args))
    layout.ensure()
    ensure_lake(layout)
    run_erasures(layout)  # before the build: the warehouse is rewritten by its builder
    started_at_ms = int(time.time() * 1000)
    run_results = layout.dbt_artifacts / "target" / "run_results.json"

    run_results.unlink(missing_ok=True)
    catalogue_files = catalogue.fingerprint() if catalogue else ()
    catalogue_args = catalogue.exclude_args(catalogue_files) if catalogue else []
    models_build = dbt_build(*refresh_build_args(layout), *catalogue_args)
    if catalogue:
        catalogue.record(catalogue_files, models_build.success)
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

    checks = run_checks(layout, checkpoint)
    checks_ok = checks.ok
    if stop.is_set():
        return CycleResult(models_build.success, tests_ok, checks_ok, published=False)
    if checks.verdict == "critical":
        log.error(
            "!!! serving.duckdb NOT published: %d critical expectation failures; the "
            "dashboards keep the previous published copy%s",
            len(checks.critical),
            "" if layout.serving_db.exists() else " (there is none yet)",
        )
        status = _status(started_at_ms, models, tests, test_all_rows, checks_ok, False)
        status.checks_verdict = checks.verdict
        status.check_failures = checks.failures
        status.kept_previous_copy = True
        status.write(layout.refresh_status)
        return CycleResult(
            models_build.success, tests_ok, checks_ok, published=False, kept_previous_copy=True
        )

    started = time.monotonic()
    size = publish_snapshot(layout)
    log.info(
        "published %s (%.1f MB) in %.2fs%s",
        layout.serving_db,
        size / 1e6,
        time.monotonic() - started,
        " WITH FAILURES (see above)"
        if not (models_build.success and tests_ok)
        else ""
        if checks_ok
        else " WITH WARNINGS (see above)",
    )
    status = _status(started_at_ms, models, tests, test_all_rows, checks_ok, True)
    status.checks_verdict = checks.verdict
    status.check_failures = checks.failures
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


@dataclass(frozen=True)
class ChecksOutcome:
    """What the expectations checkpoint decided for this cycle's publish."""

    verdict: str
    """`passed`, `warning`, `critical` (do not publish) or `crashed`."""
    failures: list[dict[str, str]]

    @property
    def ok(self) -> bool:
        return self.verdict == "passed"

    @property
    def critical(self) -> list[dict[str, str]]:
        return [failure for failure in self.failures if failure["severity"] == "critical"]


def run_checks(layout: DataLayout, checkpoint: Checkpoint | None = None) -> ChecksOutcome:
    """Run the expectations checkpoint on this cycle's build (`dbt.duckdb`) and log its
    verdict with one line per failure. A crash of the checker (or of the process it runs
    in) is logged and publishes anyway: it says nothing about the data, and the dashboards
    should still refresh."""
    started = time.monotonic()
    try:
        if checkpoint is None:
            from expectations import run_checkpoint

            report = run_checkpoint(layout, warehouse=layout.dbt_db)
        else:
            report = checkpoint(layout.dbt_db)
    except Exception:
        log.exception(
            "!!! expectations checkpoint CRASHED after %.1fs; publishing anyway",
            time.monotonic() - started,
        )
        return ChecksOutcome("crashed", [])
    failures = [dataclasses.asdict(failure) for failure in report.failures]
    duration = time.monotonic() - started
    if report.verdict == "passed":
        log.info(
            "expectations checkpoint ok in %.1fs (%d suites, %d expectations)",
            duration,
            len(report.suites),
            report.evaluated,
        )
    else:
        log.log(
            logging.ERROR if report.verdict == "critical" else logging.WARNING,
            "!!! expectations checkpoint %s in %.1fs: %d critical and %d warning failures%s; "
            "Data Docs: %s\n%s",
            report.verdict.upper(),
            duration,
            len(report.critical),
            len(report.warnings),
            "" if report.verdict == "critical" else "; publishing with a warning",
            report.docs_index,
            "\n".join(f"  [{failure.severity}] {failure.message}" for failure in report.failures),
        )
    return ChecksOutcome(report.verdict, failures)


def run_forever(layout: DataLayout, interval_s: float, stop: threading.Event) -> None:
    """Start a cycle every `interval_s` seconds (or right after a longer one) until `stop`.

    Every build runs in one long-lived dbt worker (`refresh.dbt_worker`), so only the first
    pays for importing dbt and parsing the project; every checkpoint in a checkpoint worker
    (`refresh.checkpoint_worker`). A cycle after a clean one tests only the rows it wrote;
    the first, and the one after a failure, test every row.
    """
    last_cycle_clean = False
    settings = get_settings()
    backoff = Backoff(settings.retry_initial_s, settings.retry_max_s)
    catalogue = CatalogueWatch(layout)
    with DbtWorker(layout) as worker, CheckpointWorker(layout) as checker:
        while not stop.is_set():
            started = time.monotonic()
            try:
                cycle = refresh_once(
                    layout, stop, worker.build, not last_cycle_clean, catalogue, checker.run
                )
                last_cycle_clean = cycle.models_ok and bool(cycle.tests_ok)
            except Exception as error:
                # Keep the loop alive through a transient fault (disk full, a file locked,
                # dbt missing for a moment during an upgrade): retried with exponential
                # backoff (marquee.backoff); the next cycle starts from scratch.
                last_cycle_clean = False
                stop.wait(backoff.report(log, "refresh cycle", error))
                continue
            if backoff.succeeded():
                log.info("refresh loop recovered: cycles run again")
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
    configure_logging()
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

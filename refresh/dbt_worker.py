"""A long-lived dbt process for the refresh loop: dbt imported once, the project parsed again
only after an edit.

Every `dbt build` in a fresh process first imports dbt and its adapters and loads the
project, seconds that a loop building every minute would pay every cycle (figures in
docs/decisions/0004-benchmark-history.md). `DbtWorker` keeps one child process that runs
dbt's programmatic API (`dbtRunner`) and hands every build the manifest it parsed last.

Why a child process and not dbt inside the loop itself: dbt keeps global state and does
not support two invocations at once in one process; a crash or leak in dbt stays in the
child, which the loop replaces on its next build; and Ctrl-C reaches the child's build as
it reached the `dbt` command before (same process group).

The child is a fresh interpreter (`python -m refresh.dbt_worker`, refresh.child_process)
whose environment is the `dbt` command's (dbt_environment), bytecode cache included.

After each build the child closes dbt-duckdb's DuckDB instance, which otherwise stays
open between invocations and holds the warehouse's file lock: the expectations checkpoint
and the snapshot copy open that file next.

Before each build the child compares the project's source files (path, size, modification
time: `project_fingerprint`) with those it parsed, and parses again when any changed, so
SQL or YAML edited while the loop runs takes effect at the next cycle, as it did when
every cycle ran the `dbt` command.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import resource
import sys
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from marquee.layout import DataLayout
from refresh.child_process import ChildProcess
from refresh.dbt_cli import (
    DBT_PROJECT_DIR,
    DbtBuildResult,
    dbt_arguments,
    dbt_environment,
    project_fingerprint,
)

FILE_LOG_LEVEL = ("--log-level-file", "warn")
"""The worker's parses and builds write warnings and errors (failed tests and models
among them) to dbt.log, not dbt's debug events: formatting one for every statement is
about a tenth of a build's fixed cost. `--once` and the tests keep dbt's debug log."""
NO_WRITE_JSON = ("--no-write-json",)
"""A build in the worker leaves dbt's JSON artifacts unwritten; `_build` writes the run
results itself (docs/benchmarks.md, issue 17: serialising manifest.json was most of the
fixed CPU of each build, and the refresh loop runs two a cycle)."""
RUN_RESULTS = "run_results.json"
log = logging.getLogger("refresh.dbt_worker")


class DbtWorker:
    """Runs `dbt build [args]` in one reused child process; see the module docstring."""

    def __init__(self, layout: DataLayout, project_dir: Path = DBT_PROJECT_DIR) -> None:
        self.layout = layout
        self.project_dir = project_dir
        self._child = ChildProcess(
            "dbt worker",
            log,
            "refresh.dbt_worker",
            [str(layout.root), str(project_dir)],
            env=dbt_environment(layout),
        )

    def build(self, *args: str) -> DbtBuildResult:
        started = time.monotonic()
        connection, _ = self._child.ensure_started()
        try:
            connection.send(list(args))
            success, output, cpu_s = connection.recv()
        except (EOFError, OSError) as exc:
            exitcode = self._child.reap()
            return DbtBuildResult(
                success=False,
                returncode=exitcode if exitcode is not None else -1,
                duration_s=time.monotonic() - started,
                output=f"the dbt worker process died during the build ({exc!r}, "
                f"exit code {exitcode})",
            )
        return DbtBuildResult(
            success=success,
            returncode=0 if success else 1,
            duration_s=time.monotonic() - started,
            output=output,
            cpu_s=cpu_s,
        )

    @property
    def child_pid(self) -> int | None:
        """The worker process's id, None before the first build and after close()."""
        return self._child.pid

    def close(self) -> None:
        """Ask the child to exit, then reap it (killed if it does not exit in time)."""
        self._child.close()

    def __enter__(self) -> DbtWorker:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def _serve(connection: Connection, data_dir: str, project: str) -> None:
    """The child: run each requested build until told to stop (None) or the pipe closes."""
    layout = DataLayout(Path(data_dir))
    project_dir = Path(project)
    os.environ.update(dbt_environment(layout))
    os.chdir(project_dir)
    manifest: Any = None
    parsed: tuple[tuple[str, int, int], ...] = ()
    while True:
        try:
            args = connection.recv()
        except (EOFError, KeyboardInterrupt):  # the loop is gone, or Ctrl-C while idle
            return
        if args is None:
            return
        before = resource.getrusage(resource.RUSAGE_SELF)
        output = io.StringIO()
        with contextlib.redirect_stdout(output), contextlib.redirect_stderr(output):
            sources = project_fingerprint(project_dir)
            if manifest is None or sources != parsed:
                # dbt's partial parsing re-reads only the files that changed.
                parse_ok, result = _invoke(layout, project_dir, "parse")
                manifest, parsed = (result if parse_ok else None), sources
            success = _build(layout, project_dir, manifest, *args)
        cpu_s = cpu_seconds(resource.getrusage(resource.RUSAGE_SELF), before)
        connection.send((success, output.getvalue(), cpu_s))


def _build(layout: DataLayout, project_dir: Path, manifest: Any, *args: str) -> bool:
    """`dbt build <args>` on the parsed `manifest`; whether it succeeded.

    The build writes `target/run_results.json` as the `dbt` command does, but not
    `target/manifest.json`: the worker's parse wrote that, and the manifest a build is
    given does not change (`NO_WRITE_JSON`).
    """
    success, result = _invoke(
        layout, project_dir, "build", *args, *NO_WRITE_JSON, manifest=manifest
    )
    if hasattr(result, "write"):  # None when dbt raised
        result.write(str(layout.dbt_artifacts / "target" / RUN_RESULTS))
    return success


def _invoke(
    layout: DataLayout, project_dir: Path, *args: str, manifest: Any = None
) -> tuple[bool, Any]:
    """`dbt <args>` in this process: (success, dbt's result, also when it failed: None
    only when dbt raised); dbt's errors are printed."""
    from dbt.cli.main import dbtRunner

    try:
        result = dbtRunner(manifest=manifest).invoke(
            dbt_arguments(layout, *args, *FILE_LOG_LEVEL, project_dir=project_dir)
        )
    except BaseException as exc:  # KeyboardInterrupt too: report it, serve the next build
        print(f"dbt raised {type(exc).__name__}: {exc}")
        return False, None
    finally:
        _release_warehouse()
    if result.exception is not None:
        print(f"dbt raised {type(result.exception).__name__}: {result.exception}")
    return result.success, result.result


def _release_warehouse() -> None:
    """Close dbt-duckdb's DuckDB instance, which it keeps open across invocations."""
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    with DuckDBConnectionManager._LOCK:
        environment = DuckDBConnectionManager._ENV
        DuckDBConnectionManager._ENV = None
        if environment is not None:
            environment.close()


def cpu_seconds(after: resource.struct_rusage, before: resource.struct_rusage) -> float:
    """User + system CPU seconds between two getrusage() readings."""
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


if __name__ == "__main__":
    # DbtWorker's child: the socket's descriptor, the data directory, the dbt project.
    _serve(Connection(int(sys.argv[1])), sys.argv[2], sys.argv[3])

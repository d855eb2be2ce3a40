"""The refresh loop's expectations checkpoint in a child process, replaced every few runs.

A process that runs the checkpoint (Great Expectations over pandas frames read through
DuckDB) again and again keeps more resident memory after each run, although its Python
objects do not grow: the native memory behind them (pandas, Arrow, DuckDB) is not all
given back. `CheckpointWorker` runs `expectations.run_checkpoint` in a child process
instead, so the loop's own memory stays flat, and replaces the child after
`CHECKPOINTS_PER_WORKER` runs, so the child's memory is bounded too; only every
`CHECKPOINTS_PER_WORKER`th run pays for importing Great Expectations again (seconds).

Like `refresh.dbt_worker`, the child is a fresh interpreter (`python -m
refresh.checkpoint_worker`, talking over a socket pair) that writes its log lines to the
loop's stdout in the loop's format. It opens the warehouse read-only for the length of one
run (the dbt worker has released it by then) and closes it before answering. It ignores
Ctrl-C, which the loop turns into "stop after the current step", and dies with the loop
(a loop killed with SIGKILL leaves no checkpoint holding the warehouse). A child that dies
or raises is reported as `CheckpointCrashed`, which the loop logs as a crashed checkpoint.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import sys
import traceback
from multiprocessing.connection import Connection
from pathlib import Path

from expectations import CheckpointReport
from marquee.layout import DataLayout
from refresh.child_process import ChildProcess
from refresh.logs import configure_logging

CHECKPOINTS_PER_WORKER = 10
"""Checkpoints one child runs before it is replaced."""
PR_SET_PDEATHSIG = 1

log = logging.getLogger("refresh.checkpoint_worker")


class CheckpointCrashed(RuntimeError):
    """The checkpoint raised in the child, or the child died during the run."""


class CheckpointWorker:
    """Runs the checkpoint in a reused child process; see the module docstring."""

    def __init__(
        self, layout: DataLayout, checkpoints_per_worker: int = CHECKPOINTS_PER_WORKER
    ) -> None:
        self.layout = layout
        self.checkpoints_per_worker = checkpoints_per_worker
        self._child = ChildProcess(
            "checkpoint worker",
            log,
            "refresh.checkpoint_worker",
            [str(layout.root), str(os.getpid())],
        )
        self._runs = 0

    def run(self, warehouse: Path) -> CheckpointReport:
        """`run_checkpoint(layout, warehouse=warehouse)` in the child."""
        connection, started = self._child.ensure_started()
        if started:
            self._runs = 0
        try:
            connection.send(str(warehouse))
            succeeded, answer = connection.recv()
        except (EOFError, OSError) as exc:
            exitcode = self._child.reap()
            raise CheckpointCrashed(
                f"the checkpoint worker process died during the run ({exc!r}, exit code {exitcode})"
            ) from None
        self._runs += 1
        if self._runs >= self.checkpoints_per_worker:
            self.close()
        if not succeeded:
            raise CheckpointCrashed(f"in the checkpoint worker process:\n{answer}")
        assert isinstance(answer, CheckpointReport)
        return answer

    @property
    def child_pid(self) -> int | None:
        """The child's process id; None before the first run and after close()."""
        return self._child.pid

    def close(self) -> None:
        """Ask the child to exit, then reap it (killed if it does not exit in time)."""
        self._child.close()

    def __enter__(self) -> CheckpointWorker:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def _serve(connection: Connection, data_dir: str) -> None:
    """The child: run a checkpoint per warehouse path received, until None or EOF."""
    from expectations import run_checkpoint

    layout = DataLayout(Path(data_dir))
    while True:
        try:
            warehouse = connection.recv()
        except EOFError:  # the loop is gone
            return
        if warehouse is None:
            return
        try:
            answer: tuple[bool, object] = (
                True,
                run_checkpoint(layout, warehouse=Path(warehouse)),
            )
        except Exception:
            answer = (False, traceback.format_exc())
        connection.send(answer)


def _die_with_parent(parent: int) -> None:
    """SIGKILL this process when the loop exits (Linux); exit now if it already has."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:
        os._exit(1)


if __name__ == "__main__":
    # CheckpointWorker's child: the socket's descriptor, the data directory, the loop's pid.
    _die_with_parent(int(sys.argv[3]))
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    configure_logging()
    # Great Expectations logs every registered API function at INFO.
    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    _serve(Connection(int(sys.argv[1])), sys.argv[2])

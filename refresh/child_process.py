"""A child interpreter the refresh loop reuses across cycles, talking over a socket pair.

The dbt worker and the checkpoint worker each keep one: `python -m <module> <fd> <args>`,
started on first use and again after it died or was closed, its end of the pair passed as
an inherited descriptor. A fresh interpreter, not a multiprocessing child: "spawn" imports
the parent's main module again in the child, which delays its first answer by that
module's import time. Sending None asks the child to exit.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import subprocess
import sys
from collections.abc import Mapping, Sequence
from multiprocessing.connection import Connection

from marquee.settings import PROJECT_ROOT


class ChildProcess:
    """One reused `python -m <module>` child; `name` says which in its owner's `log`."""

    def __init__(
        self,
        name: str,
        log: logging.Logger,
        module: str,
        args: Sequence[str],
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.name = name
        self.log = log
        self.module = module
        self.args = list(args)
        self.env = env
        self._process: subprocess.Popen[bytes] | None = None
        self._connection: Connection | None = None

    @property
    def pid(self) -> int | None:
        """The running child's process id; None before the first start and after close()."""
        return self._process.pid if self._process is not None else None

    def ensure_started(self) -> tuple[Connection, bool]:
        """The connection to a running child, and whether it was started just now."""
        if self._process is not None and self._process.poll() is None:
            assert self._connection is not None
            return self._connection, False
        self.reap()
        parent_end, child_end = socket.socketpair()
        command = [sys.executable, "-m", self.module, str(child_end.fileno()), *self.args]
        try:
            process = subprocess.Popen(
                command,
                pass_fds=[child_end.fileno()],
                cwd=PROJECT_ROOT,
                env=None if self.env is None else dict(self.env),
            )
        except BaseException:
            parent_end.close()
            raise
        finally:
            child_end.close()
        self.log.info("%s started (pid %d)", self.name, process.pid)
        self._process = process
        self._connection = Connection(parent_end.detach())
        return self._connection, True

    def close(self) -> None:
        """Ask the child to exit, then reap it (killed if it does not exit in time)."""
        if self._connection is not None:
            with contextlib.suppress(OSError):
                self._connection.send(None)
        self.reap()

    def reap(self, timeout_s: float = 30.0) -> int | None:
        """Close the connection and wait for the child; its exit code, None if none ran."""
        process, self._process = self._process, None
        if self._connection is not None:
            self._connection.close()
            self._connection = None
        if process is None:
            return None
        try:
            return process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            return process.wait()

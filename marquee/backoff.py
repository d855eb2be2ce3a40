"""Exponential backoff for the long-running loops (pipeline local mode, the refresh loop).

A fault in one cycle of a loop (the disk full, a DuckDB file locked by another process, a
directory made read-only) must not end the process: the loop says what failed, waits, and
tries again, doubling the wait up to a ceiling, and says when it has recovered. The waits
come from MARQUEE_RETRY_INITIAL_S and MARQUEE_RETRY_MAX_S.
"""

from __future__ import annotations

import errno
import logging
from dataclasses import dataclass

import duckdb

TRANSIENT_ERRNOS = {
    errno.ENOSPC: "disk full",
    errno.EDQUOT: "disk quota exceeded",
    errno.EROFS: "file system read-only",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.EIO: "I/O error",
    errno.EMFILE: "too many open files",
    errno.ENFILE: "too many open files in the system",
}


def _chain(error: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def transient_cause(error: BaseException) -> str | None:
    """What makes this fault worth waiting out ('disk full', 'database locked', ...), read
    from the exception and its causes (Beam re-raises a transform's error inside its own);
    None when nothing says it is transient."""
    for cause in _chain(error):
        if isinstance(cause, OSError) and cause.errno in TRANSIENT_ERRNOS:
            return TRANSIENT_ERRNOS[cause.errno]
        if isinstance(cause, duckdb.IOException) and "lock" in str(cause).lower():
            return "database locked by another process"
        text = str(cause)
        if "No space left on device" in text or "[Errno 28]" in text:
            return "disk full"
        if "Read-only file system" in text or "Permission denied" in text:
            return "file system not writable"
    return None


@dataclass
class Backoff:
    """The waits between retries: `initial_s`, doubled after each fault, at most `max_s`."""

    initial_s: float = 1.0
    max_s: float = 60.0
    faults: int = 0
    """Faults in a row (0 after a success)."""

    def failed(self) -> float:
        """Count a fault; the seconds to wait before the next attempt."""
        wait = min(self.max_s, self.initial_s * 2**self.faults)
        self.faults += 1
        return wait

    def succeeded(self) -> bool:
        """Count a success; True when it ends a run of faults (the loop has recovered)."""
        recovered = self.faults > 0
        self.faults = 0
        return recovered

    def report(self, log: logging.Logger, what: str, error: BaseException) -> float:
        """Count a fault, log it with the wait it causes; the wait in seconds.

        A known transient fault is one line; anything else is logged with its traceback,
        and the loop still retries (a crash loop would stop the other parts of the demo)."""
        wait = self.failed()
        cause = transient_cause(error)
        if cause is not None:
            log.warning(
                "%s failed (%s: %s); retrying in %.3g s (fault %d in a row)",
                what, cause, error, wait, self.faults,
            )  # fmt: skip
        else:
            log.error(
                "%s failed; retrying in %.3g s (fault %d in a row)",
                what, wait, self.faults, exc_info=error,
            )  # fmt: skip
        return wait

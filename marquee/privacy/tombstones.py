"""The pseudonyms whose later events ingest drops: every erasure within its horizon.

A job file is the tombstone (`marquee.privacy.jobs`): the API writes it before it answers
the erasure request, and every ingest path asks `Tombstones.current()` which pseudonyms
are erased. The answer is cached and read again only when the directory of job files
changes (one `stat` per call), so a worker process sees a new erasure at its next request
and an idle one pays nothing. Expired tombstones (the worker empties their pseudonyms
after the lateness horizon) drop nothing.
"""

from __future__ import annotations

import os

from marquee.layout import DataLayout
from marquee.privacy.jobs import all_jobs, erasures_dir


class Tombstones:
    """Erased pseudonyms of one data directory, read from the job files when they change."""

    def __init__(self, layout: DataLayout) -> None:
        self.layout = layout
        self.directory = erasures_dir(layout)
        self._stamp: tuple[int, int] | None = None
        self._erased: frozenset[str] = frozenset()

    def current(self) -> frozenset[str]:
        try:
            info = os.stat(self.directory)
        except FileNotFoundError:
            return frozenset()
        stamp = (info.st_mtime_ns, info.st_ino)
        if stamp != self._stamp:
            erased = frozenset(
                pseudonym for job in all_jobs(self.layout) for pseudonym in job.pseudonyms
            )
            self._erased, self._stamp = erased, stamp
        return self._erased

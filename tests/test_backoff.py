"""marquee/backoff.py: the waits double up to the ceiling, and the faults worth waiting out
are told apart from the rest, also when Beam or DuckDB wrap them."""

from __future__ import annotations

import errno
import logging

import duckdb
import pytest

from marquee.backoff import Backoff, transient_cause

pytestmark = pytest.mark.unit


def test_waits_double_up_to_the_ceiling_and_start_over_after_a_success() -> None:
    backoff = Backoff(initial_s=0.5, max_s=3.0)
    assert [backoff.failed() for _ in range(5)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    assert backoff.succeeded() is True
    assert backoff.succeeded() is False
    assert backoff.failed() == 0.5


def test_a_full_disk_is_transient_even_inside_another_error(tmp_path: object) -> None:
    try:
        with open("/dev/full", "wb") as full:
            full.write(b"x" * 8192)
            full.flush()
    except OSError as error:
        disk_full = error
    assert disk_full.errno == errno.ENOSPC
    assert transient_cause(disk_full) == "disk full"
    try:
        try:
            raise disk_full
        except OSError as inner:
            raise RuntimeError("while running 'WriteOutputs'") from inner
    except RuntimeError as wrapped:
        assert transient_cause(wrapped) == "disk full"
    # Beam may hand over only the text of the transform's error.
    assert transient_cause(RuntimeError("OSError: [Errno 28] No space left on device")) == (
        "disk full"
    )
    assert transient_cause(ValueError("a bug")) is None


def test_a_duckdb_file_held_by_another_process_is_transient() -> None:
    error = duckdb.IOException(
        'IO Error: Could not set lock on file "x.duckdb": Conflicting lock is held'
    )
    assert transient_cause(error) == "database locked by another process"


def test_the_log_says_what_failed_and_how_long_it_waits(caplog: pytest.LogCaptureFixture) -> None:
    backoff = Backoff(initial_s=1.0, max_s=60.0)
    log = logging.getLogger("test")
    with caplog.at_level(logging.INFO):
        assert backoff.report(log, "pipeline run", OSError(errno.ENOSPC, "No space")) == 1.0
        assert backoff.report(log, "pipeline run", ValueError("a bug")) == 2.0
    first, second = caplog.records
    assert first.levelno == logging.WARNING
    assert "pipeline run failed (disk full" in first.getMessage()
    assert "retrying in 1 s (fault 1 in a row)" in first.getMessage()
    assert second.levelno == logging.ERROR and second.exc_info is not None

"""The date-sensitive tests pass with every process's clock 30 days ahead.

The suite must pass on whatever date CI runs it. The modules below exercise the paths
that read the wall clock: the API's time horizons, the pipeline's dedup window, dbt's
"now" for dropped views, the golden scenarios rebased to "now", quarantine replay, the
refresh loop and the expectations. They run again in a child pytest under libfaketime
(Debian's `faketime`, installed by `make test`), which shifts the date of the child and of
every process it starts (API, pipeline, dbt, DuckDB) by 30 days; a test that held a fixed
date, or compared a fixed date with the clock, fails there.
"""

from __future__ import annotations

import glob
import os
import subprocess
import sys
import time

import pytest

from tests.conftest import REPO_ROOT

SHIFT_DAYS = 30
DATE_SENSITIVE_MODULES = [
    "tests/test_ingestion_api.py",
    "tests/test_pipeline_outputs.py",
    "tests/test_pipeline_local.py",
    "tests/test_golden_marts.py",
    "tests/test_replay.py",
    "tests/test_refresh.py",
    "tests/test_expectations.py",
    "tests/test_poison_events.py",
]


def shifted_environment() -> dict[str, str]:
    """This process's environment with libfaketime preloaded, 30 days ahead."""
    libraries = glob.glob("/usr/lib/*/faketime/libfaketime.so.1")
    assert libraries, "libfaketime is missing: `make test` installs Debian's faketime"
    return {
        **os.environ,
        "LD_PRELOAD": libraries[0],
        "FAKETIME": f"+{SHIFT_DAYS}d",
        "FAKETIME_DONT_RESET": "1",
        # The date moves; intervals do not. Python waits on locks against the kernel's
        # monotonic clock, which a shifted monotonic clock would put 30 days away.
        "FAKETIME_DONT_FAKE_MONOTONIC": "1",
    }


@pytest.mark.timeout(1800)
def test_date_sensitive_tests_pass_with_the_clock_30_days_ahead() -> None:
    env = shifted_environment()
    probe = subprocess.run(
        [sys.executable, "-c", "import time; print(time.time())"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    shift_s = float(probe.stdout) - time.time()
    assert abs(shift_s - SHIFT_DAYS * 86400) < 600, f"the child's clock is {shift_s:.0f} s off"

    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *DATE_SENSITIVE_MODULES],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]

"""The date-sensitive tests pass with every process's clock 30 days ahead.

The suite must pass on whatever date CI runs it. The modules below exercise the paths
that read the wall clock: the API's time horizons, the pipeline's dedup window, dbt's
"now" for dropped views, the golden scenarios rebased to "now", quarantine replay, the
refresh loop and the expectations. They run again in a child pytest with the wall clock
of the child and of every process it starts (API, pipeline, dbt, DuckDB, `date`) 30 days
ahead: `tests/support/wallclock_shift.c`, compiled here and preloaded, moves the wall clock
only, so sleeps and timeouts keep their length. A test that held a fixed date, or compared
a fixed date with the clock, fails there.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support import REPO_ROOT

pytestmark = pytest.mark.e2e

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
SHIM_SOURCE = REPO_ROOT / "tests" / "support" / "wallclock_shift.c"


def shifted_environment(build_dir: Path) -> dict[str, str]:
    """This process's environment with the wall-clock shim preloaded, 30 days ahead."""
    shim = build_dir / "wallclock_shift.so"
    subprocess.run(
        ["gcc", "-shared", "-fPIC", "-O2", "-o", str(shim), str(SHIM_SOURCE), "-ldl"],
        check=True,
    )
    return {
        **os.environ,
        "LD_PRELOAD": str(shim),
        "WALLCLOCK_SHIFT_S": str(SHIFT_DAYS * 86400),
    }


@pytest.mark.timeout(1800)
def test_date_sensitive_tests_pass_with_the_clock_30_days_ahead(tmp_path: Path) -> None:
    env = shifted_environment(tmp_path)
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            "import duckdb; print(duckdb.sql('select epoch(now())').fetchall()[0][0])",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    shift_s = float(probe.stdout) - time.time()
    assert abs(shift_s - SHIFT_DAYS * 86400) < 600, f"the child's clock is {shift_s:.0f} s off"

    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            f"--basetemp={tmp_path / 'shifted'}",
            *DATE_SENSITIVE_MODULES,
        ],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]

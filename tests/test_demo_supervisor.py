"""The demo's supervisor (tools/demo.py): a part that exits is started again with backoff,
and the other parts keep running, untouched."""

from __future__ import annotations

import itertools
import os
import sys
import time

import pytest

from tools.demo import Counters, Part, Supervisor, stop_all

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


def test_an_exited_part_is_restarted_with_backoff_and_the_others_keep_running() -> None:
    supervisor = Supervisor(dict(os.environ), Counters())
    steady = Part("steady", [sys.executable, "-c", "import time; time.sleep(60)"], "sleeps")
    flaky = Part("flaky", [sys.executable, "-c", "import sys; sys.exit(3)"], "exits at once")
    supervisor.start(steady)
    supervisor.start(flaky)
    assert steady.process is not None
    steady_pid = steady.process.pid
    flaky_pids: set[int] = set()
    restarts_at: list[float] = []
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and len(restarts_at) < 3:
            assert flaky.process is not None
            pid = flaky.process.pid
            supervisor.watch()
            if flaky.process.pid != pid:
                restarts_at.append(time.monotonic())
            flaky_pids.add(flaky.process.pid)
            time.sleep(0.05)
        assert len(restarts_at) == 3, "flaky was restarted three times"
        # Waits of 1, 2 and 4 s (plus the time the part takes to exit).
        gaps = [b - a for a, b in itertools.pairwise(restarts_at)]
        assert gaps[0] >= 1.8 and gaps[1] >= 3.6, gaps
        assert len(flaky_pids) == 4
        assert steady.process.poll() is None and steady.process.pid == steady_pid
    finally:
        stop_all(supervisor.running)

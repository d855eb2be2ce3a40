"""Fixtures the test modules share, the test tiers and the rule that every module is in one.

Plain helpers (launchers, builders, readers) live in `tests/support/`; this file holds only
fixtures and hooks, and no test module imports it.

Tiers, marked per module with `pytestmark = pytest.mark.<tier>` (docs/testing.md):
- `unit`: in the test process only: no child process, no listening server, no dbt. Checked
  while each unit test runs: starting a process or listening on a socket fails the test.
- `integration`: real parts of one component: a DuckDB warehouse built by dbt, the API as
  its own process on loopback, the pipeline as its own command.
- `e2e`: several processes working together, a browser, or the demo.
"""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest
from hypothesis import settings as hypothesis_settings

from marquee.settings import get_settings
from tests.support.api import (
    WRITE_KEYS,
    ApiProcess,
    LaunchedApi,
    launch_api,
    start_api,
    stop,
)

TIERS = ("unit", "integration", "e2e")

# Property tests explore the same examples on every run, so CI verdicts are reproducible;
# a new search is a deliberate change of seed, not luck.
hypothesis_settings.register_profile("marquee", derandomize=True, database=None)
hypothesis_settings.load_profile("marquee")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Refuse a run that holds a test in no tier or in more than one."""
    wrong: dict[str, set[str]] = {}
    for item in items:
        tiers = {mark.name for mark in item.iter_markers() if mark.name in TIERS}
        if len(tiers) != 1:
            wrong.setdefault(item.nodeid.split("::")[0], set()).update(tiers)
    if wrong:
        lines = [f"  {module}: {sorted(tiers) or 'no tier'}" for module, tiers in wrong.items()]
        raise pytest.UsageError(
            "every test module is in exactly one tier (pytestmark = pytest.mark.unit, "
            "integration or e2e; docs/testing.md):\n" + "\n".join(lines)
        )


@pytest.fixture(autouse=True)
def _main_module_kept() -> Iterator[None]:
    """Each test ends with the `__main__` module it started with. Streamlit's AppTest runs a
    page script as `__main__` and leaves it there; multiprocessing's "spawn" re-runs
    `__main__` in every child, so a later test that spawns workers (the history generator)
    would run the dashboard script in each of them and lose its pool."""
    main = sys.modules.get("__main__")
    yield
    if main is not None:
        sys.modules["__main__"] = main


@pytest.fixture(autouse=True)
def _unit_tests_stay_in_process(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In the unit tier, starting a process or listening on a socket fails the test."""
    if request.node.get_closest_marker("unit") is None:
        return

    def refuse(what: str) -> Callable[..., NoReturn]:
        def refused(*args: Any, **kwargs: Any) -> NoReturn:
            raise AssertionError(
                f"a unit test {what}: mark its module integration or e2e (docs/testing.md)"
            )

        return refused

    monkeypatch.setattr(subprocess.Popen, "_execute_child", refuse("started a process"))
    monkeypatch.setattr(socket.socket, "listen", refuse("listened on a socket"))


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh MARQUEE_DATA_DIR for this test, for this process and its children."""
    directory = tmp_path / "data"
    monkeypatch.setenv("MARQUEE_DATA_DIR", str(directory))
    monkeypatch.setenv("MARQUEE_WRITE_KEYS", WRITE_KEYS)
    get_settings.cache_clear()
    yield directory
    get_settings.cache_clear()


@pytest.fixture
def api(data_dir: Path) -> Iterator[ApiProcess]:
    """The real ingestion API as a separate process on 127.0.0.1."""
    server = start_api(data_dir)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def launched(data_dir: Path) -> Iterator[Callable[..., LaunchedApi]]:
    """Launch API processes for one test (`launch_api`'s arguments); all stop at its end."""
    started: list[LaunchedApi] = []

    def launch(*args: object, **kwargs: object) -> LaunchedApi:
        api = launch_api(data_dir, *args, **kwargs)  # type: ignore[arg-type]
        started.append(api)
        return api

    yield launch
    for api in started:
        stop(api)


@pytest.fixture(scope="module")
def golden(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    """The golden scenario and the data directory whose serving.duckdb is its dbt build
    (built once per session by the real API, pipeline and dbt; see golden_data_dir)."""
    from tests.support.dashboards import golden_data_dir  # Streamlit only where it is used

    return golden_data_dir(tmp_path_factory)


@pytest.fixture
def golden_dir(
    monkeypatch: pytest.MonkeyPatch, golden: tuple[dict[str, Any], Path]
) -> Iterator[Path]:
    """The dashboards pointed at the golden data directory for one test."""
    from tests.support.dashboards import use_data_dir

    yield from use_data_dir(monkeypatch, golden[1])


@pytest.fixture
def empty_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The dashboards pointed at an empty data directory (no warehouse) for one test."""
    from tests.support.dashboards import use_data_dir

    yield from use_data_dir(monkeypatch, tmp_path)

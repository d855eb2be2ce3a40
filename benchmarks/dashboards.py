"""Dashboard render time: each page's p95 over 30 days x 1,000 creators on DuckDB.

The issue's target: every page renders in under 1 s p95 over 30 days of 1,000 creators
(about 4M views, 30k creator-days).

A render is one `AppTest` run of the whole app (streamlit_app.py: navigation, the shared
filters in the sidebar, then the page) on the page's URL with filters in the query string, as
a browser opening that address runs it; a run that raises fails the benchmark. AppTest knows
the pages `st.navigation` registers only after a first run, which opens the home page (the
Creators page): that first run is not timed (`--method open` times it too, as the first
figures did: every page's figure then held a Creators render). Each page is rendered RUNS
times:

- warm: the query cache (`st.cache_data`, TTL 10 s) holds the page's queries, as for anyone
  opening a page a colleague just opened, or the rerun after a filter change of another page
  (with `--method page`, an untimed render of the page just before each timed one: a series of
  runs lasts longer than the TTL);
- cold: `st.cache_data.clear()` before each run, so every query runs on DuckDB, as after the
  TTL or after a new warehouse is published (once a minute).

The baseline, measured the same way in the same run (its second run timed), is a trivial app
(its title and one plain DuckDB query, `count(*)` of the playback_sessions mart, on a connection
opened for it): the fixed cost of an AppTest run and of opening the warehouse. Each page's figure is
printed as its absolute p95 and as a ratio to the baseline's p95; on this noisy 2-core machine
the ratio is what to compare between runs.

The pages open over the whole history (`range=90d` covers its 31 days), all creators and
types; the Creator page on the creator with the most views, the Content page on the
most-viewed VOD.

The warehouse, in order of preference:

1. `--warehouse PATH`: a dbt-built warehouse file (its data directory's lake, dbt artifacts
   and state are linked beside the copy, for the Live now and Data health pages);
2. the dbt build benchmark's cache (benchmarks/dbt_build.py, `.bench-cache/history-30d-1000c-
   20eps-s1`, 57M events, about 40 minutes to build) once a run of it has finished: its
   warehouse is copied, never written;
3. otherwise a smaller history built here into `.bench-cache/dashboards-30d-1000c-2eps-s1`
   (the same simulator, 30 days x 1,000 creators at 2 events/s, a tenth of the dbt
   benchmark's rate: about 6M events, a few minutes) and built by dbt (models only).

A warehouse with fewer views than the target's 4M has its `playback_sessions` mart, the one mart
whose rows grow one for one with the traffic, replicated to about 4M rows (each copy a distinct
session id; rows rewritten in view start order, as dbt appends them). The other marts keep
the history's row counts: at 2 events/s about 24k creator-days, and fewer content-days and
content-minutes than at the full rate. The output says which warehouse ran and how.

Figures per page: `<page>_warm_p95_s` and `<page>_cold_p95_s` (absolute), `..._over_baseline`
(ratio to the baseline's p95 of the same cache state) and `..._minus_baseline_s` (the page's
own share: its queries, the sidebar's, and drawing).

    uv run python -m benchmarks.dashboards [--runs 20] [--pages creators quality ...]
        [--method page|open]
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from benchmarks import show
from marquee.settings import PROJECT_ROOT

if TYPE_CHECKING:
    from streamlit.testing.v1 import AppTest

RUNS = 20
TARGET_VIEWS = 4_000_000
RANGE = "90d"
DAYS = 30
CREATORS = 1000
SMALL_RATE = 2.0
SEED = 1
OWN_CACHE = (
    PROJECT_ROOT / ".bench-cache" / f"dashboards-{DAYS}d-{CREATORS}c-{SMALL_RATE:g}eps-s{SEED}"
)
BASELINE_APP = """
import sys

sys.path.insert(0, {repo})

import duckdb
import streamlit as st

from dashboards import data

st.set_page_config(page_title="Marquee", layout="wide")
st.title("Baseline")
connection = duckdb.connect(str(data.serving_db_path()), read_only=True)
try:
    st.write(connection.execute("select count(*) from main.playback_sessions").fetchone())
finally:
    connection.close()
"""


@dataclass(frozen=True)
class Warehouse:
    data_dir: Path
    """A data directory whose warehouse/serving.duckdb the app reads."""
    description: str


def p95(seconds: list[float]) -> float:
    """Nearest-rank 95th percentile: of 20 runs, the 19th fastest."""
    ordered = sorted(seconds)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def _link_beside(source_data_dir: Path, data_dir: Path) -> None:
    """Everything of the source data directory but its warehouse, linked (read only by the
    pages: the Live now page reads the lake, Data health dbt's artifacts and the state)."""
    for entry in source_data_dir.iterdir():
        if entry.name != "warehouse" and not (data_dir / entry.name).exists():
            (data_dir / entry.name).symlink_to(entry.resolve())


def publish_copy(dbt_db: Path, source_data_dir: Path, scratch: Path) -> Path:
    """A scratch data directory whose serving.duckdb is a copy of `dbt_db`."""
    data_dir = scratch / "data"
    (data_dir / "warehouse").mkdir(parents=True)
    shutil.copyfile(dbt_db, data_dir / "warehouse" / "serving.duckdb")
    _link_beside(source_data_dir, data_dir)
    return data_dir


def views_rows(serving: Path) -> int:
    with duckdb.connect(str(serving), read_only=True) as connection:
        row = connection.execute("select count(*) from main.playback_sessions").fetchone()
    assert row is not None
    return int(row[0])


def replicate_views(serving: Path, target_rows: int) -> int:
    """Replicate the playback_sessions mart to about `target_rows` rows; returns the factor.

    Each copy k > 0 gets session id `<id>~k` (a view is one (app_id, session_id)) and keeps
    the rest, so every aggregate over views grows k-fold; rows are rewritten in view start
    order, as an incremental dbt build appends them, so DuckDB's zone maps prune by date as
    they do on the real mart.
    """
    factor = max(1, round(target_rows / max(1, views_rows(serving))))
    if factor == 1:
        return 1
    with duckdb.connect(str(serving)) as connection:
        connection.execute(
            """
            create or replace table main.playback_sessions as
            select * replace (
                case when copy = 0 then session_id else session_id || '~' || copy end
                    as session_id
            )
            from main.playback_sessions, range(?) as copies(copy)
            order by view_started_at, app_id, session_id, copy
            """,
            [factor],
        )
    return factor


def _dbt_cache_warehouse() -> Path | None:
    """The dbt build benchmark's 30-day, 1,000-creator history, once a run of it has finished
    (the run_results of its last pass, the incremental cycle's tests, exist) and no build is
    writing its warehouse (no write-ahead log)."""
    from benchmarks.dbt_build import cache_dir
    from marquee.layout import DataLayout
    from tools.history.plan import default_rate

    layout = DataLayout(cache_dir(DAYS, CREATORS, default_rate(CREATORS), SEED))
    target = layout.dbt_artifacts / "target"
    finished = all(
        (target / f"run_results-{cycle}-tests.json").exists() for cycle in ("full", "incremental")
    )
    writing = layout.dbt_db.with_name(layout.dbt_db.name + ".wal").exists()
    if layout.dbt_db.exists() and finished and not writing:
        return layout.root
    return None


def own_history(workers: int) -> Path:
    """The smaller history of this benchmark, built (or finished) into its own cache, and its
    dbt build (models only, as the refresh loop's first pass)."""
    from benchmarks.dbt_build import ensure_history
    from refresh.dbt_cli import run_dbt_build
    from refresh.loop import MODELS_ONLY

    settings, _ = ensure_history(DAYS, CREATORS, SMALL_RATE, SEED, workers, OWN_CACHE)
    built = OWN_CACHE / "dashboards-dbt-built.json"
    if not (built.exists() and settings.layout.dbt_db.exists()):
        print(f"dbt build of {OWN_CACHE} (a few minutes)", flush=True)
        build = run_dbt_build(settings.layout, "--full-refresh", *MODELS_ONLY)
        if not build.success:
            raise RuntimeError(f"dbt build failed:\n{build.output[-5000:]}")
        built.write_text(json.dumps({"dbt_build_s": build.duration_s}))
    return OWN_CACHE


def prepare_warehouse(scratch: Path, warehouse: Path | None, workers: int) -> Warehouse:
    from marquee.layout import DataLayout

    if warehouse is not None:
        source, dbt_db = warehouse.parent.parent, warehouse
        what = f"{warehouse} (copied)"
    elif (cached := _dbt_cache_warehouse()) is not None:
        source, dbt_db = cached, DataLayout(cached).dbt_db
        what = f"the dbt benchmark's history {cached.name} (copied)"
    else:
        source = own_history(workers)
        dbt_db = DataLayout(source).dbt_db
        what = (
            f"{source.name}: {DAYS} days x {CREATORS:,} creators at {SMALL_RATE:g} events/s, "
            "built by dbt"
        )
    data_dir = publish_copy(dbt_db, source, scratch)
    before = views_rows(_serving(data_dir))
    factor = replicate_views(_serving(data_dir), TARGET_VIEWS)
    if factor > 1:
        what += (
            f"; playback_sessions mart replicated {factor}x ({before:,} -> "
            f"{views_rows(_serving(data_dir)):,} rows), other marts as built"
        )
    else:
        what += f"; {before:,} views"
    return Warehouse(data_dir, what)


def _serving(data_dir: Path) -> Path:
    return data_dir / "warehouse" / "serving.duckdb"


def page_params(serving: Path) -> dict[str, dict[str, str]]:
    """Each page's query string: the whole history, and the busiest subject where a page
    opens on one."""
    with duckdb.connect(str(serving), read_only=True) as connection:
        creator = connection.execute(
            "select creator_id from main.creator_daily_performance "
            "group by creator_id order by sum(views) desc limit 1"
        ).fetchone()
        content = connection.execute(
            "select content_id from main.playback_sessions where content_type = 'vod' "
            "group by content_id order by count(*) desc limit 1"
        ).fetchone()
    assert creator is not None and content is not None
    return {
        "creator": {"range": RANGE, "creator": str(creator[0])},
        "content": {"range": RANGE, "content": str(content[0])},
    }


Render = Callable[[bool], float]
"""Renders once (cold: with the query cache cleared first) and returns the seconds timed."""

METHODS = ("page", "open")


def time_runs(render: Render, runs: int, cold: bool) -> list[float]:
    render(cold)  # imports, the first parse of every module, and (warm) the cache filled
    return [render(cold) for _ in range(runs)]


def _checked(at: AppTest, title: str | None = None) -> None:
    assert not at.exception, [e.message for e in at.exception]
    if title is not None:
        assert [t.value for t in at.title][:1] == [title], [t.value for t in at.title]


def page_renderer(url_path: str, title: str, params: dict[str, str], method: str) -> Render:
    """`page`: a new session's run of the page, after an untimed first run (AppTest registers
    the navigation's pages then); `open`: both runs timed, as `open_page` does them."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    from dashboards.navigation import page_path
    from tests.support.dashboards import APP_SCRIPT, RUN_TIMEOUT_S

    def opened() -> AppTest:
        at = AppTest.from_file(str(APP_SCRIPT), default_timeout=RUN_TIMEOUT_S)
        for name, value in params.items():
            at.query_params[name] = value
        at.run()
        _checked(at)
        return at

    def render(cold: bool) -> float:
        if cold:
            st.cache_data.clear()
        elif method == "page":
            # Someone opened the page just before: its queries are cached (the cache's TTL,
            # 10 s, is shorter than a series of runs, so the warm-up run alone would not do).
            at = opened()
            at.switch_page(page_path(url_path))
            at.run()
        started = time.perf_counter()
        at = opened()
        if method == "page":
            if cold:
                st.cache_data.clear()
            started = time.perf_counter()
        at.switch_page(page_path(url_path))
        at.run()
        elapsed = time.perf_counter() - started
        _checked(at, title)
        return elapsed

    return render


def baseline_renderer(scratch: Path, method: str) -> Render:
    """The trivial app: page config, a title and one plain uncached DuckDB query; timed as the
    pages are (`page`: its second run)."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    script = scratch / "baseline_app.py"
    script.write_text(BASELINE_APP.format(repo=repr(str(PROJECT_ROOT))))

    def render(cold: bool) -> float:
        if cold:
            st.cache_data.clear()
        started = time.perf_counter()
        at = AppTest.from_file(str(script), default_timeout=60)
        at.run()
        _checked(at)
        if method == "page":
            if cold:
                st.cache_data.clear()
            started = time.perf_counter()
        at.run()
        elapsed = time.perf_counter() - started
        _checked(at, "Baseline")
        return elapsed

    return render


def run(runs: int = RUNS, pages: list[str] | None = None, warehouse: Path | None = None,
        workers: int = 2, method: str = "page") -> tuple[str, dict[str, float]]:  # fmt: skip
    from dashboards.navigation import ALL_PAGES
    from marquee.settings import get_settings

    # Outside a server, clearing the cache logs "missing ScriptRunContext" and "No runtime
    # found" at every run (harmless: AppTest runs the app in this process).
    for name in ("scriptrunner_utils.script_run_context", "caching.cache_data_api"):
        logging.getLogger(f"streamlit.runtime.{name}").disabled = True
    specs = [spec for spec in ALL_PAGES if pages is None or spec.url_path in pages]
    with tempfile.TemporaryDirectory(prefix="marquee-dashboard-bench-") as scratch_name:
        scratch = Path(scratch_name)
        prepared = prepare_warehouse(scratch, warehouse, workers)
        previous = os.environ.get("MARQUEE_DATA_DIR")
        os.environ["MARQUEE_DATA_DIR"] = str(prepared.data_dir)
        get_settings.cache_clear()
        try:
            params = page_params(_serving(prepared.data_dir))
            figures: dict[str, float] = {}
            baseline = baseline_renderer(scratch, method)
            for cold in (False, True):
                label = "cold" if cold else "warm"
                base_p95 = p95(time_runs(baseline, runs, cold))
                figures[f"baseline_{label}_p95_s"] = base_p95
                for spec in specs:
                    page_p95 = p95(
                        time_runs(
                            page_renderer(
                                spec.url_path,
                                spec.title,
                                params.get(spec.url_path, {"range": RANGE}),
                                method,
                            ),
                            runs,
                            cold,
                        )
                    )
                    figures[f"{spec.url_path}_{label}_p95_s"] = page_p95
                    print(f"  {spec.url_path} {label}: p95 {page_p95:.3f} s", flush=True)
                    figures[f"{spec.url_path}_{label}_over_baseline"] = page_p95 / base_p95
                    figures[f"{spec.url_path}_{label}_minus_baseline_s"] = page_p95 - base_p95
        finally:
            if previous is None:
                os.environ.pop("MARQUEE_DATA_DIR", None)
            else:
                os.environ["MARQUEE_DATA_DIR"] = previous
            get_settings.cache_clear()
    return prepared.description, figures


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.dashboards")
    parser.add_argument("--runs", type=int, default=RUNS)
    parser.add_argument("--pages", nargs="+", default=None, help="url paths (default: all)")
    parser.add_argument(
        "--warehouse", type=Path, default=None, help="a dbt-built warehouse file to copy"
    )
    parser.add_argument("--workers", type=int, default=2, help="for building the history")
    parser.add_argument(
        "--method",
        choices=METHODS,
        default="page",
        help="page: time the page's run only (default); open: also AppTest's first run, which "
        "renders the home page (the first figures' method)",
    )
    args = parser.parse_args()
    description, figures = run(args.runs, args.pages, args.warehouse, args.workers, args.method)
    show(f"dashboards: p95 render per page, warm and cold cache (target < 1 s), method "
         f"{args.method}\n  warehouse: {description}", figures)  # fmt: skip


if __name__ == "__main__":
    main()

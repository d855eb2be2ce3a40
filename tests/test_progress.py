"""The history's progress lines: a resumed, complete history prints no empty line."""

from __future__ import annotations

import io

import pytest

from tools.history.progress import Progress

pytestmark = pytest.mark.unit


def test_nothing_to_do_prints_nothing() -> None:
    out = io.StringIO()
    progress = Progress("generate", 0, "events", out=out)
    progress.finish()
    assert out.getvalue() == ""


def test_finish_prints_the_work_done_once() -> None:
    out = io.StringIO()
    progress = Progress("pipeline", 1_000, "events", every_s=3600, out=out)
    progress.advance(400)
    progress.advance(600)
    progress.finish()
    progress.finish()
    lines = out.getvalue().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("[pipeline] 1,000/1,000 events (100%)")


def test_work_beyond_an_unknown_total_is_still_reported() -> None:
    out = io.StringIO()
    progress = Progress("pipeline", 0, "events", every_s=3600, out=out)
    progress.advance(5)
    progress.finish()
    assert out.getvalue().startswith("[pipeline] 5/0 events (-)")

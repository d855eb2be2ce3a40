"""The bitrate on screen over a CMCD session (ingestion_api/cmcd_bitrate.py)."""

from __future__ import annotations

import pytest

from ingestion_api.cmcd_bitrate import MAX_PENDING_SWITCHES, ScreenBitrate

pytestmark = pytest.mark.unit


def test_a_requested_rendition_reaches_the_screen_once_the_buffer_has_played_out() -> None:
    screen = ScreenBitrate().reported(0, 300, on_screen=False, buffer_ms=8_000)
    assert screen.kbps == 300, "the first bitrate is on screen from the start"
    screen = screen.reported(10_000, 2_500, on_screen=False, buffer_ms=6_000)
    assert screen.kbps == 300 and screen.at(16_000).kbps == 2_500
    # 10 s to 20 s: 6 s at 300, then 4 s at 2500.
    assert screen.average(10_000, 20_000) == (6 * 300 + 4 * 2_500) // 10
    assert screen.average(20_000, 25_000) == 2_500


def test_the_playhead_bitrate_applies_at_once_and_replaces_what_was_requested() -> None:
    screen = ScreenBitrate().reported(0, 900, on_screen=False, buffer_ms=None)
    screen = screen.reported(1_000, 2_500, on_screen=False, buffer_ms=10_000)
    screen = screen.reported(2_000, 300, on_screen=True, buffer_ms=10_000)
    assert (screen.kbps, screen.pending) == (300, ())


def test_switches_keep_their_order_and_a_repeat_adds_none() -> None:
    screen = ScreenBitrate().reported(0, 300, on_screen=False, buffer_ms=0)
    screen = screen.reported(1_000, 900, on_screen=False, buffer_ms=5_000)
    screen = screen.reported(2_000, 900, on_screen=False, buffer_ms=5_000)
    screen = screen.reported(3_000, 2_500, on_screen=False, buffer_ms=1_000)
    assert screen.pending == ((6_000, 900), (6_000, 2_500)), "never shown before an earlier one"
    assert screen.at(6_000).kbps == 2_500


def test_without_a_buffer_a_switch_is_immediate_and_the_memory_is_bounded() -> None:
    screen = ScreenBitrate().reported(0, 300, on_screen=False, buffer_ms=0)
    assert screen.reported(5, 900, on_screen=False, buffer_ms=None).at(5).kbps == 900
    for step in range(MAX_PENDING_SWITCHES + 5):
        screen = screen.reported(step, 1_000 + step, on_screen=False, buffer_ms=60_000)
    assert len(screen.pending) == MAX_PENDING_SWITCHES
    assert screen.kbps == 1_004, "the oldest switches are taken as shown"

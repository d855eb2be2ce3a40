"""The CMCD viewer key's raw value never reaches the quarantine, whatever its encoding
(ingestion_api/cmcd_scrub.py): quoted, bare, URL-encoded, inside a JSON string, escaped
in JSON, in a header, in a line that is not JSON, unterminated."""

from __future__ import annotations

import json
import urllib.parse

import pytest

from ingestion_api.cmcd_scrub import ViewerScrubber
from marquee.intake.enrich import Pseudonymiser

pytestmark = pytest.mark.unit

KEY = "com.marquee-vid"
RAW = "viewer-7@example.org"


pseudonymise = Pseudonymiser(b"test-only-pseudonym-key")
PSEUDONYM = pseudonymise("app", RAW)
scrubber = ViewerScrubber(KEY)


@pytest.mark.parametrize(
    "text",
    [
        f'sid="s1",{KEY}="{RAW}",br=900',
        f"sid=s1,{KEY}={RAW},br=900",
        urllib.parse.quote(f'sid="s1",{KEY}="{RAW}",br=900'),
        f'sid="s1",{KEY}="{RAW}',  # unterminated
    ],
)
def test_a_report_keeps_the_pseudonym_and_not_the_raw_id(text: str) -> None:
    scrubbed = scrubber.text(text, "app", pseudonymise)
    assert RAW not in urllib.parse.unquote(scrubbed)
    assert PSEUDONYM in scrubbed
    assert "sid=" in urllib.parse.unquote(scrubbed)


def test_another_key_ending_in_the_same_name_is_left_alone() -> None:
    text = f'x{KEY}="kept",sid="s1"'
    assert scrubber.text(text, "app", pseudonymise) == text


@pytest.mark.parametrize(
    "line",
    [
        json.dumps({"ts": 1, "cmcd": urllib.parse.quote(f'sid="s1",{KEY}="{RAW}"')}),
        json.dumps({"ts": 1, "cmcd": f'sid="s1",{KEY}="{RAW}"'}),
        json.dumps({"ts": 1, "headers": {"CMCD-Session": f'sid="s1",{KEY}="{RAW}"'}}),
        json.dumps({"ts": 1, "url": "/seg.m4s?CMCD=" + urllib.parse.quote(f'{KEY}="{RAW}"')}),
        json.dumps({"ts": 1, "cmcd": [f'{KEY}="{RAW}"']}),  # wrong type: refused, still scrubbed
        json.dumps({"ts": 1, "cmcd": f'{KEY}="{RAW}"'}).replace("-vid", "\\u002dvid"),
        f'{{"ts": 1, "cmcd": "{KEY}=\\"{RAW}\\"", broken',  # not JSON
        f"not json at all {KEY}={RAW}",
    ],
)
def test_a_log_line_keeps_no_raw_id_in_any_shape(line: str) -> None:
    scrubbed = scrubber.log_line(line, "app", pseudonymise)
    assert RAW not in scrubbed and RAW not in urllib.parse.unquote(scrubbed)
    assert PSEUDONYM in scrubbed or PSEUDONYM in urllib.parse.unquote(scrubbed)


def test_a_line_without_the_key_is_kept_as_it_came() -> None:
    line = json.dumps({"ts": 1, "cmcd": urllib.parse.quote('sid="s1",br=900')})
    assert scrubber.log_line(line, "app", pseudonymise) == line

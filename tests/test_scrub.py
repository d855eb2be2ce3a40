"""The quarantine scrubber in process: no raw viewer id survives, whatever the text's shape,
and a string id gets the pseudonym the enricher gives it."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from marquee.intake.enrich import Pseudonymiser
from marquee.intake.scrub import scrub_viewer_ids

pytestmark = pytest.mark.unit

MARKER = "RAWVIEWER"
pseudonymise = Pseudonymiser(b"test key")

viewer_ids = st.text(min_size=0, max_size=12).map(lambda text: MARKER + text)
viewer_values = (
    viewer_ids
    | st.lists(viewer_ids, min_size=1, max_size=3)
    | viewer_ids.map(lambda value: {"id": [value, {"x": value}]})
)
plain = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.text(max_size=8).filter(lambda t: MARKER not in t)
)
documents = st.recursive(
    plain,
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(
            st.text(max_size=6).filter(lambda key: key != "viewer_id"), children, max_size=3
        )
        | st.builds(
            lambda value, rest: {**rest, "viewer_id": value},
            viewer_values,
            st.dictionaries(st.sampled_from(["a", "b"]), children, max_size=2),
        )
    ),
    max_leaves=10,
)


def texts_of(document: Any, ascii_only: bool, indent: int | None, escape_key: bool) -> bytes:
    text = json.dumps(document, ensure_ascii=ascii_only, indent=indent).encode()
    return text.replace(b'"viewer_id"', b'"viewer\\u005fid"') if escape_key else text


@settings(max_examples=300)
@given(documents, st.booleans(), st.sampled_from([None, 1]), st.booleans(), st.floats(0, 1))
def test_no_raw_viewer_id_survives_in_whole_or_cut_json(
    document: Any, ascii_only: bool, indent: int | None, escape_key: bool, cut: float
) -> None:
    text = texts_of(document, ascii_only, indent, escape_key)
    assert MARKER.encode() not in scrub_viewer_ids(text, "app", pseudonymise)
    cut_text = text[: int(len(text) * cut)]
    assert MARKER.encode() not in scrub_viewer_ids(cut_text, "app", pseudonymise)


@settings(max_examples=200)
@given(viewer_ids, st.booleans(), st.booleans())
def test_a_string_id_gets_the_pseudonym_the_enricher_gives(
    viewer_id: str, ascii_only: bool, escape_key: bool
) -> None:
    event = {"type": "heartbeat", "viewer_id": viewer_id, "note": "x"}
    scrubbed = scrub_viewer_ids(texts_of(event, ascii_only, None, escape_key), "app", pseudonymise)
    assert json.loads(scrubbed)["viewer_id"] == pseudonymise("app", viewer_id)
    assert json.loads(scrubbed)["note"] == "x"


@pytest.mark.parametrize(
    "text",
    [
        b'{"viewer_id":"RAWVIEWER1\xff\xfe","type":"x"}',
        b'{"viewer_id":' + b"[" * 100_000 + b'"RAWVIEWER2"',
        b'{"viewer_id": RAWVIEWER3 , "type": 1}',
        b'{"viewer_id":"RAWVIEWER4\\ud800"}',
        b'{"v\\u0069ewer\\u005Fid"  :  {"a": "RAWVIEWER5}"}}',
        b'{"viewer_id":12345678901}\n{"viewer_id":"RAWVIEWER6"}',
    ],
)
def test_malformed_text_keeps_no_raw_id(text: bytes) -> None:
    scrubbed = scrub_viewer_ids(text, "app", pseudonymise)
    assert b"RAWVIEWER" not in scrubbed and b"12345678901" not in scrubbed


def test_text_around_the_ids_is_kept_byte_for_byte() -> None:
    text = b'{"note": "\\"viewer_id\\": kept", "viewer_id": "RAWVIEWER", "n": [1, 2]}'
    scrubbed = scrub_viewer_ids(text, "app", pseudonymise)
    expected = text.replace(b"RAWVIEWER", pseudonymise("app", "RAWVIEWER").encode())
    assert scrubbed == expected

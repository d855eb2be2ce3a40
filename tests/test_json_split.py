"""The recursion-free splitter in process: the same parts as msgspec's split wherever
msgspec can split, the right parts where it cannot (an element nested past its limit), and
a refusal for bodies whose top level is not one closed array or envelope."""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from marquee.intake.json_split import Unsplittable, split_deep

pytestmark = pytest.mark.unit

values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=6),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=4), children, max_size=3)
    ),
    max_leaves=15,
)


@settings(max_examples=300)
@given(st.lists(values, max_size=5), st.sampled_from([None, 2]), st.booleans())
def test_the_parts_are_msgspecs_wherever_msgspec_can_split(
    items: list[Any], indent: int | None, envelope: bool
) -> None:
    array = json.dumps(items, indent=indent).encode()
    expected = [bytes(raw) for raw in msgspec.json.decode(array, type=list[msgspec.Raw])]
    body = array
    if envelope:
        body = json.dumps({"x": {"y": [1]}, "events": items, "sent_at": 7}, indent=indent).encode()
    parts, sent_at = split_deep(body)
    assert [json.loads(part) for part in parts] == items
    if not envelope:
        assert parts == expected
    assert sent_at == (b"7" if envelope else None)


def test_an_element_nested_past_msgspecs_limit_is_one_part() -> None:
    deep = b"[" * 50_000 + b'"x,]"' + b"]" * 50_000
    body = b'{"padding": ' + deep + b', "events": [{"a": 1}, ' + deep + b', "s"]}'
    with pytest.raises(RecursionError):
        msgspec.json.decode(body, type=dict[str, list[msgspec.Raw]])
    parts, sent_at = split_deep(body)
    assert parts == [b'{"a": 1}', deep, b'"s"'] and sent_at is None


@pytest.mark.parametrize(
    "body",
    [b"", b"1", b"[1,]", b"[1", b"[1]]", b"[1] x", b"{}", b'{"events": 1}', b'{"events" [1]}'],
)
def test_a_top_level_that_is_not_one_closed_array_or_envelope_is_refused(body: bytes) -> None:
    with pytest.raises(Unsplittable):
        split_deep(body)

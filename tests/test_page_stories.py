"""The Stories page (`/stories`): the golden story's funnel, conversion and reactions with
the reasons of invalidity as shown; the filters that apply (creator, type) and those that do
not (platform, country); and the empty states: no warehouse, no stories, no reasons table."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from dashboards.filters import CONTENT_TYPE_LABELS
from tests.support.dashboards import (
    metrics,
    open_page,
    table,
    texts,
    use_data_dir,
    warehouse_copy,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

OTHER_CREATOR = ("cr_other", "Other creator")
"""A creator added to a copy of the golden warehouse, with no stories."""


def links(at: AppTest) -> list[tuple[str, str]]:
    """(label, query string) of every st.page_link on the page."""
    return [(link.proto.label, link.proto.query_string) for link in at.get("page_link")]


def test_golden_story_funnel_conversion_and_reactions(
    golden_dir: Path, golden: tuple[dict[str, Any], Path]
) -> None:
    expected = golden[0]["expected"]["stories"]["story_g_1"]

    at = open_page("stories")

    assert [t.value for t in at.title] == ["Stories"]
    shown = metrics(at)
    assert shown["Stories"] == "1"
    assert shown["Reach"] == str(expected["reach"])
    assert shown["Completion rate"] == f"{expected['completion_rate_pct']:.2f} %"  # 33.33 %
    assert shown["Reaction rate"] == f"{expected['reaction_rate_pct']:.2f} %"
    assert shown["Story-to-live conversion"] == (
        f"{expected['story_to_live_conversion_pct']:.2f} %"  # 66.67 %
    )
    assert shown["Valid reactions"] == str(expected["valid_reactions"])  # 1
    assert shown["Invalid reactions"] == str(expected["invalid_reactions"])  # 2
    assert shown["Tap-forward rate"] == f"{expected['tap_forward_rate_pct']:.2f} %"
    assert shown["Tap-back rate"] == "0.00 %"
    assert shown["Exit rate"] == "0.00 %"

    # The scenario's three reactions: v_g_4's first "fire" (valid), v_g_4's second "fire" a
    # second later (a repeat), v_g_6's "heart" at 15:16, after the story expired at 15:14:20.
    reasons = table(at, "Reactions").set_index("Reactions")["Count"].to_dict()
    assert reasons == {
        "Valid": 1,
        "Invalid (any reason)": 2,
        "Invalid: after the story expired": 1,
        "Invalid: after the story was deleted": 0,
        "Invalid: repeat by the same viewer": 1,
    }

    story = table(at, "Story").set_index("Story id").loc["story_g_1"]
    assert story["Creator"] == "Creator g"
    assert story["Announces live"] == "live_g_1"
    # Funnel: 3 viewers reached; v_g_4 completed and reacted validly; v_g_4 and v_g_5
    # started the announced live within 24 h.
    assert (
        story["Reach"],
        story["Completed viewers"],
        story["Viewers with a valid reaction"],
        story["Converted to live"],
    ) == (3, 1, 1, 2)
    assert (story["After the story expired"], story["Repeat by the same viewer"]) == (1, 1)
    assert round(story["Story-to-live conversion %"], 2) == 66.67

    per_creator = table(at, "Creator").set_index("Creator id").loc["cr_g_1"]
    assert per_creator["Creator"] == "Creator g"
    assert (per_creator["Stories"], per_creator["Reach (sum over stories)"]) == (1, 3)
    assert round(per_creator["Completion rate %"], 2) == 33.33

    assert ("story_g_1 (Creator g)", "content=story_g_1") in links(at)
    assert ("Creator g", "creator=cr_g_1") in links(at)
    assert len(at.get("vega_lite_chart")) == 1  # the funnel


def test_platform_and_country_filters_do_not_apply_and_say_so(golden_dir: Path) -> None:
    at = open_page("stories", {"platform": "web"})

    assert "platform and country filters do not apply" in texts(at, "caption")
    assert metrics(at)["Reach"] == "3"


def test_type_filter_other_than_story_gives_an_explanation(golden_dir: Path) -> None:
    at = open_page("stories", {"type": CONTENT_TYPE_LABELS["vod"]})

    assert "shows stories only" in texts(at, "info")
    assert metrics(at) == {}

    at = open_page("stories", {"type": CONTENT_TYPE_LABELS["story"]})
    assert metrics(at)["Reach"] == "3"


def test_creator_without_stories_gives_a_clear_empty_state(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, golden: tuple[dict[str, Any], Path]
) -> None:
    creator_id, name = OTHER_CREATOR
    data_dir = warehouse_copy(
        golden,
        tmp_path,
        "insert into main.creator_daily_performance (creator_id, day, creator_name) "
        f"select '{creator_id}', max(day), '{name}' from main.creator_daily_performance",
    )
    for _ in use_data_dir(monkeypatch, data_dir):
        at = open_page("stories", {"creator": name})

        assert f"No stories by {name}" in texts(at, "info")
        assert metrics(at) == {}


def test_no_warehouse_explains_itself(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for _ in use_data_dir(monkeypatch, tmp_path):
        at = open_page("stories")

        assert [t.value for t in at.title] == ["Stories"]
        assert "No data yet" in texts(at, "info")
        assert metrics(at) == {}


def test_warehouse_without_stories(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, golden: tuple[dict[str, Any], Path]
) -> None:
    data_dir = warehouse_copy(golden, tmp_path, "delete from main.stories")
    for _ in use_data_dir(monkeypatch, data_dir):
        at = open_page("stories")

        assert "No stories by any creator" in texts(at, "info")
        assert metrics(at) == {}


def test_warehouse_without_the_reactions_table_shows_totals_without_reasons(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, golden: tuple[dict[str, Any], Path]
) -> None:
    data_dir = warehouse_copy(golden, tmp_path, "drop view main.int_story_reactions")
    for _ in use_data_dir(monkeypatch, data_dir):
        at = open_page("stories")

        assert "no int_story_reactions table" in texts(at, "caption")
        reasons = table(at, "Reactions").set_index("Reactions")["Count"].to_dict()
        assert reasons == {"Valid": 1, "Invalid (any reason)": 2}
        assert "After the story expired" not in table(at, "Story").columns

"""Alert rules judged on known minute-level rows: thresholds, anomalies against a baseline,
the minimum of views, scopes, and the firing/resolved transitions kept durably.

Rows are built in memory with times relative to now; the store writes to a temporary
directory and a sender function stands in for the webhook (the webhook itself is exercised
by tests/test_alerts_end_to_end.py).
"""

from __future__ import annotations

import itertools
import socket
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from alerts.delivery import webhook_sender
from alerts.evaluate import SETTLE_MS, LakeData, Observation, evaluate
from alerts.loop import main
from alerts.metrics import MINUTE_MS
from alerts.names import CatalogueNames
from alerts.rules import DEFAULT_RULES_FILE, METRICS, Rule, RulesError, load_rules, parse_rules
from alerts.state import STALE_AFTER_MS, AlertStore, transition
from marquee.catalog_files import write_json_array_atomic
from marquee.lake_runs import PipelineStatus
from marquee.layout import DataLayout
from marquee.settings import get_settings
from tests.support.alert_rows import NOW_MS, burst, minute_rows, no_minutes, view, views

pytestmark = pytest.mark.unit

NO_STATUS = PipelineStatus(None, None)

FAILURES = Rule(
    "failures", "playback_failure_pct", "content", "threshold", "above", 20.0, min_views=20
)
_ids = itertools.count()


def new_id() -> str:
    return f"alert-{next(_ids)}"


def judge(rule: Rule, frame: pl.DataFrame, now_ms: int = NOW_MS) -> dict[str, Observation]:
    data = LakeData(frame, no_minutes(), NO_STATUS)
    return {obs.scope_value: obs for obs in evaluate([rule], data, now_ms)}


def test_threshold_fires_on_the_minute_in_progress_and_names_the_content() -> None:
    judged = judge(FAILURES, views(*burst("live_bad", 25, 10), *burst("live_ok", 25, 1)))
    assert judged["live_bad"].breaching is True
    assert judged["live_bad"].value == pytest.approx(40.0)
    assert judged["live_bad"].views == 25
    assert judged["live_ok"].breaching is False
    fired = transition({}, judged.values(), [FAILURES], NOW_MS, new_id).notifications
    assert [(n["status"], n["scope_value"]) for n in fired] == [("firing", "live_bad")]
    assert "live_bad" in fired[0]["text"] and fired[0]["text"].startswith("[FIRING]")


def test_too_few_views_are_not_judged() -> None:
    judged = judge(FAILURES, views(*burst("live_small", 5, 5)))
    assert judged["live_small"].breaching is None
    assert transition({}, judged.values(), [FAILURES], NOW_MS, new_id).notifications == []


def test_the_minute_before_is_judged_while_the_current_one_has_too_few_views() -> None:
    previous_minute = NOW_MS - MINUTE_MS
    frame = views(*burst("live_bad", 25, 25, previous_minute), *burst("live_bad", 3, 0))
    assert judge(FAILURES, frame)["live_bad"].breaching is True
    healthy_now = views(*burst("live_bad", 25, 25, previous_minute), *burst("live_bad", 20, 0))
    assert judge(FAILURES, healthy_now)["live_bad"].breaching is False


def test_views_of_a_minute_outside_the_window_do_not_count() -> None:
    old = burst("live_bad", 25, 25, NOW_MS - 3 * MINUTE_MS)
    assert judge(FAILURES, views(*old)) == {}


def test_view_metrics_follow_metrics_md() -> None:
    rows = [
        view("c", NOW_MS - 10_000, failed=True, started=False),
        view("c", NOW_MS - 10_000, failed=True),
        view("c", NOW_MS - 10_000, stalled_ms=1_000, startup_ms=1_000),
        view("c", NOW_MS - 10_000, startup_ms=3_000),
    ]
    frame = views(*rows)
    values = {}
    for metric in ("playback_failure_pct", "vsf_pct", "rebuffer_pct", "startup_p95_ms"):
        rule = Rule("r", metric, "content", "threshold", "above", 0.0, min_views=1)
        values[metric] = judge(rule, frame)["c"].value
    assert values["playback_failure_pct"] == pytest.approx(50.0)
    assert values["vsf_pct"] == pytest.approx(25.0)
    # started views: watched = startup + played + stalled = 4500 + 6000 + 7000; stalled 1000
    assert values["rebuffer_pct"] == pytest.approx(100 * 1_000 / (4_500 + 6_000 + 7_000))
    # startup of started views 500, 1000, 3000: p95 at position 0.95 * 2 = 1.9
    assert values["startup_p95_ms"] == pytest.approx(1_000 + 0.9 * 2_000)


def test_partials_of_one_view_merge_across_runs() -> None:
    start = view("c", NOW_MS - 10_000, session="s_split", started=True)
    later = {
        **view("c", NOW_MS - 5_000, session="s_split", started=False, failed=True),
        "play_requested_ms": None,
        "startup_ms": None,
    }
    merged = views(start, later)
    assert merged.height == 1
    row = merged.row(0, named=True)
    assert row["start_ms"] == NOW_MS - 10_000
    assert row["started"] and row["failed"] and row["startup_ms"] == 500


def test_scope_platform_and_everything_group_across_content() -> None:
    rows = [
        *[view(f"c{i}", NOW_MS - 10_000, platform="android", failed=i < 8) for i in range(20)],
        *[view(f"d{i}", NOW_MS - 10_000, platform="ios") for i in range(20)],
    ]
    platform = Rule("p", "playback_failure_pct", "platform", "threshold", "above", 20.0)
    judged = judge(platform, views(*rows))
    assert judged["android"].breaching is True and judged["ios"].breaching is False
    everything = Rule("e", "playback_failure_pct", "everything", "threshold", "above", 30.0)
    assert judge(everything, views(*rows))["all"].value == pytest.approx(20.0)
    assert judge(everything, views(*rows))["all"].breaching is False
    creator = Rule("c", "playback_failure_pct", "creator", "threshold", "above", 10.0)
    assert set(judge(creator, views(*rows))) == {"cr_1"}


def test_anomaly_against_the_trailing_baseline() -> None:
    drop = Rule(
        "drop", "concurrent_viewers", "content", "anomaly", "below", 50.0,
        baseline_minutes=10, min_baseline=5, content_types=("live",),
    )  # fmt: skip
    last_complete = (NOW_MS - SETTLE_MS) // MINUTE_MS - 1
    baseline = {last_complete - k: 40.0 for k in range(1, 11)}

    def observed(window_viewers: float) -> Observation:
        frame = minute_rows("live_1", {**baseline, last_complete: window_viewers})
        data = LakeData(views(view("x", 0)).clear(), frame, NO_STATUS)
        (observation,) = evaluate([drop], data, NOW_MS)
        return observation

    assert observed(10.0).breaching is True
    assert observed(10.0).reference == pytest.approx(40.0)
    assert observed(30.0).breaching is False
    small = minute_rows("live_2", {**{m: 2.0 for m in baseline}, last_complete: 0.5})
    data = LakeData(views(view("x", 0)).clear(), small, NO_STATUS)
    assert evaluate([drop], data, NOW_MS)[0].breaching is None  # baseline under min_baseline


def test_event_volume_counts_a_vanished_platform_as_zero() -> None:
    rule = Rule(
        "volume", "event_volume", "platform", "anomaly", "below", 50.0,
        baseline_minutes=5, min_baseline=10,
    )  # fmt: skip
    last_complete = (NOW_MS - SETTLE_MS) // MINUTE_MS - 1
    frame = minute_rows("c", {last_complete - k: 100.0 for k in range(1, 6)})
    data = LakeData(views(view("x", 0)).clear(), frame, NO_STATUS)
    (observation,) = evaluate([rule], data, NOW_MS)
    assert observation.scope_value == "web"
    assert observation.value == 0 and observation.breaching is True


def test_freshness_against_the_last_commit() -> None:
    rule = Rule("fresh", "freshness_s", "everything", "threshold", "above", 300.0)
    empty = views(view("x", 0)).clear()
    stale = LakeData(empty, no_minutes(), PipelineStatus(7, NOW_MS - 400_000))
    fresh = LakeData(empty, no_minutes(), PipelineStatus(7, NOW_MS - 2_000))
    assert evaluate([rule], stale, NOW_MS)[0].breaching is True
    assert evaluate([rule], fresh, NOW_MS)[0].breaching is False
    assert evaluate([rule], LakeData(empty, no_minutes(), NO_STATUS), NOW_MS)[0].breaching is None


def test_one_firing_no_repeat_then_one_resolved() -> None:
    bad = judge(FAILURES, views(*burst("live_bad", 25, 25)))
    quiet = judge(FAILURES, views(*burst("live_bad", 2, 2)))
    good = judge(FAILURES, views(*burst("live_bad", 25, 0)))
    first = transition({}, bad.values(), [FAILURES], NOW_MS, new_id)
    again = transition(first.firing, bad.values(), [FAILURES], NOW_MS + 2_000, new_id)
    kept = transition(again.firing, quiet.values(), [FAILURES], NOW_MS + 4_000, new_id)
    done = transition(kept.firing, good.values(), [FAILURES], NOW_MS + 6_000, new_id)
    assert [n["status"] for n in first.notifications] == ["firing"]
    assert again.notifications == [] and kept.notifications == []
    assert list(kept.firing) == ["failures|live_bad"]
    assert [n["status"] for n in done.notifications] == ["resolved"]
    assert done.notifications[0]["alert_id"] == first.notifications[0]["alert_id"]
    assert done.firing == {}


def test_an_alert_not_judged_for_long_resolves() -> None:
    bad = judge(FAILURES, views(*burst("live_bad", 25, 25)))
    first = transition({}, bad.values(), [FAILURES], NOW_MS, new_id)
    later = NOW_MS + STALE_AFTER_MS + 1
    gone = transition(first.firing, [], [FAILURES], later, new_id)
    assert [n["status"] for n in gone.notifications] == ["resolved"]
    assert "not judged" in gone.notifications[0]["reason"]


def test_the_store_survives_a_restart_without_notifying_again(tmp_path: Path) -> None:
    bad = judge(FAILURES, views(*burst("live_bad", 25, 25)))
    store = AlertStore.open(tmp_path)
    assert [n["status"] for n in store.apply(bad.values(), [FAILURES], NOW_MS, new_id)] == [
        "firing"
    ]
    reopened = AlertStore.open(tmp_path)
    assert reopened.apply(bad.values(), [FAILURES], NOW_MS + 2_000, new_id) == []
    assert len(reopened.outbox) == 1  # not delivered yet: kept for the next attempt

    attempts: list[str] = []

    def down(payload: dict[str, Any]) -> None:
        attempts.append(payload["status"])
        raise ConnectionError("receiver down")

    assert reopened.deliver(down, NOW_MS) == 0
    assert reopened.deliver(down, NOW_MS + 100) == 0  # backing off: not tried again yet
    assert attempts == ["firing"]
    delivered: list[dict[str, Any]] = []
    assert AlertStore.open(tmp_path).deliver(delivered.append, NOW_MS + 60_000) == 1
    assert [n["scope_value"] for n in delivered] == ["live_bad"]
    assert AlertStore.open(tmp_path).outbox == []
    history = (tmp_path / "history.jsonl").read_text().splitlines()
    assert len(history) == 1 and '"status": "firing"' in history[0]


def test_the_shipped_rules_cover_every_metric() -> None:
    rules = load_rules(DEFAULT_RULES_FILE)
    assert {rule.metric for rule in rules} == set(METRICS)
    assert {rule.kind for rule in rules} == {"threshold", "anomaly"}


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("{name: a, metric: nope, value: 1}", "`metric` must be one of"),
        ("{name: a, metric: vsf_pct, value: 1, scope: country}", "`scope` must be one of"),
        ("{name: a, metric: vsf_pct, value: high}", "`value` must be a number"),
        ("{name: a, metric: vsf_pct, value: 1, minviews: 3}", "unknown fields ['minviews']"),
        ("{name: a, metric: freshness_s, value: 1, scope: content}", "scope `everything` only"),
    ],
)
def test_a_wrong_rule_is_refused_with_its_name(entry: str, message: str) -> None:
    with pytest.raises(RulesError, match="rule a") as error:
        parse_rules(f"rules:\n  - {entry}\n")
    assert message in str(error.value)


def test_a_disabled_rule_is_left_out() -> None:
    text = "rules:\n  - {name: a, metric: vsf_pct, value: 1, enabled: false}\n"
    assert parse_rules(text) == []


def test_a_receiver_that_is_down_keeps_the_notification_for_later(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a loopback port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    send = webhook_sender(f"http://127.0.0.1:{port}/hook")
    store = AlertStore.open(tmp_path)
    store.apply(
        judge(FAILURES, views(*burst("live_bad", 25, 25))).values(), [FAILURES], NOW_MS, new_id
    )
    assert store.deliver(send, NOW_MS) == 0
    (waiting,) = AlertStore.open(tmp_path).outbox
    assert waiting["attempts"] == 1 and waiting["next_attempt_ms"] == NOW_MS + 2_000


def test_notifications_name_the_content_by_its_catalogue_title(tmp_path: Path) -> None:
    layout = DataLayout(tmp_path)
    write_json_array_atomic(
        layout.catalog_content_file,
        [
            {
                "content_id": "live_bad",
                "creator_id": "cr_1",
                "content_type": "live",
                "title": "Ranked",
            }
        ],
    )
    judged = judge(FAILURES, views(*burst("live_bad", 25, 25)))
    names = CatalogueNames(layout)
    (fired,) = transition({}, judged.values(), [FAILURES], NOW_MS, new_id, names).notifications
    assert fired["scope_name"] == "Ranked"
    assert 'content live_bad ("Ranked")' in fired["text"]
    assert names("platform", "web") is None and names("content", "unknown") is None


def test_an_unreadable_state_is_set_aside_not_fatal(tmp_path: Path) -> None:
    (tmp_path / "state.json").write_text("{not json")
    store = AlertStore.open(tmp_path)
    assert store.firing == {} and store.outbox == []
    assert (tmp_path / "state.json.unreadable").read_text() == "{not json"


def test_a_wrong_rules_file_stops_the_evaluator_with_its_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    rules = tmp_path / "rules.yml"
    rules.write_text("rules:\n  - {name: typo, metric: vsf_pct, value: 1, scope: contnet}\n")
    monkeypatch.setenv("MARQUEE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MARQUEE_ALERT_RULES", str(rules))
    get_settings.cache_clear()
    try:
        assert main(["--once"]) == 2
    finally:
        get_settings.cache_clear()
    assert "rule typo: `scope` must be one of" in caplog.text

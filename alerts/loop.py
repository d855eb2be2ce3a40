"""The alert evaluator: after each pipeline commit, judge every rule and notify the changes.

Every `--interval-s` (2 s) the loop reads the pipeline's status file; when a new run was
committed, or EVALUATE_EVERY_S passed without one (freshness, and alerts that resolve by
time), it reads the new runs (`alerts.reader`), judges the rules (`alerts.evaluate`),
records the alerts that start or stop firing (`alerts.state`) and delivers the
notifications due (`alerts.delivery`). A failure of any step is logged and the loop goes
on: an alert evaluator that exits is worse than one that skips a cycle.

Run it:
    uv run python -m alerts            # loop until Ctrl-C or SIGTERM
    uv run python -m alerts --once     # one evaluation and delivery, then exit
Rules: alerts/rules.yml or MARQUEE_ALERT_RULES; receiver: MARQUEE_ALERT_WEBHOOK_URL
(docs/alerts.md).
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import FrameType
from typing import Any

from alerts.delivery import webhook_sender
from alerts.evaluate import evaluate
from alerts.names import CatalogueNames
from alerts.reader import LakeReader
from alerts.rules import Rule, RulesError, load_rules
from alerts.state import AlertStore
from marquee.lake_runs import read_pipeline_status
from marquee.layout import DataLayout
from marquee.settings import get_settings

log = logging.getLogger("alerts")

EVALUATE_EVERY_S = 15.0
MIN_LOOKBACK_MINUTES = 20


@dataclass
class Evaluator:
    """One data directory's rules, reader, store and receiver; `step` is one cycle."""

    rules: list[Rule]
    reader: LakeReader
    store: AlertStore
    send: Callable[[dict[str, Any]], None]
    layout: DataLayout
    names: CatalogueNames
    last_run_id: int | None = None
    last_evaluated_s: float = 0.0

    @classmethod
    def from_settings(cls) -> Evaluator:
        settings = get_settings()
        rules = load_rules(settings.alert_rules)
        lookback = max([MIN_LOOKBACK_MINUTES, *(rule.lookback_minutes for rule in rules)])
        layout = settings.layout
        return cls(
            rules,
            LakeReader(layout, lookback * 60_000),
            AlertStore.open(layout.alerts_dir, settings.alert_history_max_entries),
            webhook_sender(settings.alert_webhook_url),
            layout,
            CatalogueNames(layout),
        )

    def step(self, force: bool = False) -> list[dict[str, Any]]:
        """Evaluate if a run was committed since the last time (or `force`, or it is time);
        deliver what is due. The notifications this step caused."""
        status = read_pipeline_status(self.layout)
        caused: list[dict[str, Any]] = []
        now_s = time.time()
        due = now_s - self.last_evaluated_s >= EVALUATE_EVERY_S
        if force or due or status.last_run_id != self.last_run_id:
            now_ms = int(now_s * 1000)
            data = self.reader.refresh(status, now_ms)
            observations = evaluate(self.rules, data, now_ms)
            caused = self.store.apply(
                observations, self.rules, now_ms, lambda: str(uuid.uuid4()), self.names
            )
            self.last_run_id = status.last_run_id
            self.last_evaluated_s = now_s
        self.store.deliver(self.send, int(time.time() * 1000))
        return caused


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m alerts", description=__doc__.split("\n")[0])
    parser.add_argument("--once", action="store_true", help="evaluate and deliver once, exit")
    parser.add_argument("--interval-s", type=float, default=2.0, help="seconds between checks")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per POST otherwise
    try:
        evaluator = Evaluator.from_settings()
    except (RulesError, OSError) as error:
        log.error("cannot start: %s", error)
        return 2
    log.info(
        "alerts: %d rules, notifications to %s",
        len(evaluator.rules),
        "the webhook" if get_settings().alert_webhook_url else "the log (no webhook set)",
    )
    if args.once:
        evaluator.step(force=True)
        return 0
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    while not stop.is_set():
        try:
            evaluator.step()
        except Exception:  # one failed cycle (a file being replaced, a bad row) is retried
            log.exception("alert evaluation failed; trying again in %.0f s", args.interval_s)
        stop.wait(args.interval_s)
    return 0

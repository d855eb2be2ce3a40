"""Which alerts fire, kept durably: one notification per start and one per end of firing.

`transition` is the state machine, a pure function: an observation that breaches for an
alert (rule x scope value) not firing starts it (a `firing` notification); one that no
longer breaches resolves it (`resolved`); one that cannot be judged (too few views, no
baseline) keeps it as it was, so a quiet minute neither resolves nor repeats an alert.
An alert that has not been judged for STALE_AFTER_MS (its stream ended, the scope went
quiet, its rule was removed) resolves with that reason, so nothing fires forever.

`AlertStore` keeps the firing alerts and the notifications not yet delivered (the outbox)
in `alerts/state.json`, replaced by an fsynced rename, and appends every notification to
`alerts/history.jsonl`. The state is written before the history and before delivery: a
restart finds the alerts already firing and does not notify them again, and redelivers
what was not delivered (a notification may arrive twice after a crash, never be lost;
its `id` lets a receiver drop the copy).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alerts import notifications
from alerts.evaluate import Observation
from alerts.rules import Rule
from marquee.durable import fsync_path, replace_durably

log = logging.getLogger("alerts")

STALE_AFTER_MS = 15 * 60_000
MAX_ATTEMPTS = 12
"""Delivery attempts of one notification before it is given up (logged, kept in history)."""
MAX_BACKOFF_MS = 300_000


@dataclass(frozen=True)
class Transition:
    firing: dict[str, dict[str, Any]]
    """Alert key -> what the firing alert was about (its firing observation, `alert_id`,
    `since_ms`, `last_judged_ms`)."""
    notifications: list[dict[str, Any]]


def _record(observation: Observation, alert_id: str, now_ms: int) -> dict[str, Any]:
    return {
        "alert_id": alert_id,
        "rule": observation.rule.name,
        "scope_value": observation.scope_value,
        "since_ms": now_ms,
        "last_judged_ms": now_ms,
        "window_start_ms": observation.window_start_ms,
        "window_end_ms": observation.window_end_ms,
    }


def transition(
    firing: dict[str, dict[str, Any]],
    observations: Iterable[Observation],
    rules: Iterable[Rule],
    now_ms: int,
    new_id: Callable[[], str],
    names: notifications.Names = notifications.no_names,
) -> Transition:
    """The firing alerts after `observations`, and the notifications of the changes."""
    after = dict(firing)
    sent: list[dict[str, Any]] = []
    judged: set[str] = set()
    by_name = {rule.name: rule for rule in rules}
    for observation in observations:
        key = observation.key
        if observation.breaching is None:
            continue
        judged.add(key)
        held = after.get(key)
        if observation.breaching and held is None:
            alert_id = new_id()
            after[key] = _record(observation, alert_id, now_ms)
            sent.append(notifications.build("firing", observation, alert_id, now_ms, names=names))
        elif observation.breaching and held is not None:
            after[key] = {**held, "last_judged_ms": now_ms}
        elif not observation.breaching and held is not None:
            del after[key]
            sent.append(
                notifications.build("resolved", observation, held["alert_id"], now_ms, names=names)
            )
    for key, held in list(after.items()):
        if key in judged or now_ms - held["last_judged_ms"] < STALE_AFTER_MS:
            continue
        del after[key]
        rule = by_name.get(held["rule"])
        if rule is None:
            log.warning("alert %s resolved without a notice: its rule is gone", key)
            continue
        quiet = Observation(
            rule, held["scope_value"], None, None, None, None, held["last_judged_ms"], now_ms
        )
        reason = f"not judged for {STALE_AFTER_MS // 60_000} minutes: too little data"
        sent.append(notifications.build("resolved", quiet, held["alert_id"], now_ms, reason, names))
    return Transition(after, sent)


@dataclass
class AlertStore:
    """The durable state of one data directory's alerts (module docstring)."""

    directory: Path
    firing: dict[str, dict[str, Any]] = field(default_factory=dict)
    outbox: list[dict[str, Any]] = field(default_factory=list)
    """Undelivered notifications, oldest first, each with `attempts` and `next_attempt_ms`."""
    history_max_entries: int = 10_000
    """The history keeps the newest this many (MARQUEE_ALERT_HISTORY_MAX_ENTRIES): once it
    holds a tenth more, the oldest are dropped (an fsynced rewrite and rename)."""

    @property
    def state_file(self) -> Path:
        return self.directory / "state.json"

    @property
    def history_file(self) -> Path:
        return self.directory / "history.jsonl"

    @classmethod
    def open(cls, directory: Path, history_max_entries: int = 10_000) -> AlertStore:
        directory.mkdir(parents=True, exist_ok=True)
        store = cls(directory, history_max_entries=history_max_entries)
        try:
            state = json.loads(store.state_file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return store
        except (OSError, ValueError) as error:  # never written so (it is renamed into place)
            kept = store.state_file.with_name("state.json.unreadable")
            store.state_file.replace(kept)
            log.error("alert state unreadable (%s): kept as %s, starting afresh", error, kept)
            return store
        store.firing = dict(state.get("firing", {}))
        store.outbox = list(state.get("outbox", []))
        return store

    def _save(self) -> None:
        tmp = self.state_file.with_name(".state.json.tmp")
        tmp.write_text(
            json.dumps({"firing": self.firing, "outbox": self.outbox}, indent=1),
            encoding="utf-8",
        )
        fsync_path(tmp)
        replace_durably(tmp, self.state_file)

    def _append_history(self, entries: list[dict[str, Any]]) -> None:
        with self.history_file.open("a", encoding="utf-8") as handle:
            for entry in entries:
                handle.write(json.dumps(entry, sort_keys=True) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
            size = handle.tell()
        # Only a file large enough to hold too many entries is read (entries are > 100 bytes).
        if size > 100 * self.history_max_entries:
            self._trim_history()

    def _trim_history(self) -> None:
        lines = self.history_file.read_text(encoding="utf-8").splitlines(keepends=True)
        if len(lines) <= self.history_max_entries * 11 // 10:
            return
        tmp = self.history_file.with_name(".history.jsonl.tmp")
        tmp.write_text("".join(lines[-self.history_max_entries :]), encoding="utf-8")
        fsync_path(tmp)
        replace_durably(tmp, self.history_file)

    def apply(
        self,
        observations: Iterable[Observation],
        rules: Iterable[Rule],
        now_ms: int,
        new_id: Callable[[], str],
        names: notifications.Names = notifications.no_names,
    ) -> list[dict[str, Any]]:
        """Take the observations; the notifications they caused, saved and queued."""
        result = transition(self.firing, observations, rules, now_ms, new_id, names)
        changed = result.firing != self.firing
        self.firing = result.firing
        for notification in result.notifications:
            self.outbox.append({"payload": notification, "attempts": 0, "next_attempt_ms": 0})
        if changed or result.notifications:
            self._save()
        if result.notifications:
            self._append_history(result.notifications)
        return result.notifications

    def deliver(self, send: Callable[[dict[str, Any]], None], now_ms: int) -> int:
        """Send the due notifications in order; stop at the first failure (the receiver is
        down: retrying the rest now would fail too) and retry it with exponential backoff.
        Returns how many were delivered."""
        delivered = 0
        while self.outbox and self.outbox[0]["next_attempt_ms"] <= now_ms:
            item = self.outbox[0]
            try:
                send(item["payload"])
            except Exception as error:  # any failure of one delivery must not stop the loop
                item["attempts"] += 1
                if item["attempts"] >= MAX_ATTEMPTS:
                    log.error(
                        "giving up notification %s after %d attempts: %s",
                        item["payload"]["id"], item["attempts"], error,
                    )  # fmt: skip
                    self.outbox.pop(0)
                else:
                    delay = min(MAX_BACKOFF_MS, 1000 * 2 ** item["attempts"])
                    item["next_attempt_ms"] = now_ms + delay
                    log.warning(
                        "notification %s not delivered (attempt %d, next in %.0f s): %s",
                        item["payload"]["id"], item["attempts"], delay / 1000, error,
                    )  # fmt: skip
                self._save()
                break
            self.outbox.pop(0)
            delivered += 1
            self._save()
        return delivered

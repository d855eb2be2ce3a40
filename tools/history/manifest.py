"""Which shards of a history a data directory already holds.

`$MARQUEE_DATA_DIR/history/manifest.json` records the world (seed, creators, rate) and
every shard written in full. A rerun skips those shards, so an interrupted history resumes
instead of writing the same events twice, and a history can be extended (the benchmark
appends an hour). A history of a different world is refused: two worlds in one log would
give every creator two catalogues, and so is one written by another engine (the scalar
simulator wrote histories before 2026-12): its shards' events differ, so appending or
resuming would count events twice. A shard interrupted half-way is written again in full;
the copies of its first events carry the same event ids, which the pipeline deduplicates.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from marquee.durable import fsync_path, replace_durably
from tools.history.plan import HistoryPlan, Shard

ENGINE = "vectorised"
"""The generator of every history written now (`tools.simulator.vector`)."""


class HistoryMismatch(ValueError):
    """The data directory holds a history of another world or another engine."""


@dataclass
class Manifest:
    path: Path
    world: dict[str, float] = field(default_factory=dict)
    done: list[tuple[int, int]] = field(default_factory=list)
    """[start_ms, end_ms) of every shard written in full."""
    engine: str | None = None
    """The generator the history was written with."""

    @classmethod
    def load(cls, data_dir: Path) -> Manifest:
        path = data_dir / "history" / "manifest.json"
        if not path.exists():
            return cls(path)
        stored = json.loads(path.read_text())
        done = [tuple(span) for span in stored["done"]]
        # Histories written before the vectorised engine existed are scalar ones.
        engine = stored.get("engine", "scalar" if done or stored["world"] else None)
        return cls(path, stored["world"], done, engine)

    @staticmethod
    def world_of(plan: HistoryPlan) -> dict[str, float]:
        return {"seed": plan.seed, "creators": plan.creators, "rate": plan.rate}

    def check(self, plan: HistoryPlan) -> None:
        if self.engine not in (None, ENGINE):
            raise HistoryMismatch(
                f"{self.path} holds a history written with the {self.engine} engine, which "
                "is gone; write the history again into another data directory"
            )
        if self.world and self.world != self.world_of(plan):
            raise HistoryMismatch(
                f"{self.path} holds a history of {self.world}, not {self.world_of(plan)}; "
                "use another data directory"
            )

    def todo(self, plan: HistoryPlan) -> list[Shard]:
        """The plan's shards not yet written; refuses shards that overlap written ones."""
        self.check(plan)
        todo = []
        for shard in plan.shards():
            if (shard.start_ms, shard.end_ms) in self.done:
                continue
            for start, end in self.done:
                if shard.start_ms < end and start < shard.end_ms:
                    raise HistoryMismatch(
                        f"shard [{shard.start_ms}, {shard.end_ms}) overlaps a written one "
                        f"[{start}, {end}) with other boundaries"
                    )
            todo.append(shard)
        return todo

    @property
    def end_ms(self) -> int | None:
        return max((end for _, end in self.done), default=None)

    def begin(self, plan: HistoryPlan) -> None:
        """Record the world and engine before the first shard is written (a crash can
        leave it half written, and its rerun must be of the same world and engine)."""
        if self.engine == ENGINE and self.world:
            return
        self.world, self.engine = self.world_of(plan), ENGINE
        self._save()

    def mark_done(self, plan: HistoryPlan, shard: Shard) -> None:
        self.world = self.world_of(plan)
        self.done.append((shard.start_ms, shard.end_ms))
        self._save()

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        stored = {"world": self.world, "done": sorted(self.done), "engine": self.engine}
        tmp.write_text(json.dumps(stored, indent=1))
        fsync_path(tmp)  # else a crash can leave the renamed manifest empty, and reruns fail
        replace_durably(tmp, self.path)

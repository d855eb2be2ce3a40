"""One history build: catalogue, the missing shards into the log, then the pipeline."""

from __future__ import annotations

from dataclasses import dataclass

from marquee.catalog import CatalogStore
from marquee.settings import Settings
from tools.history.generate import GenerationSummary, write_history
from tools.history.manifest import Manifest
from tools.history.pipeline import PipelineSummary, run_pipeline
from tools.history.plan import WARMUP_S, HistoryPlan
from tools.history.worker import WriterConfig
from tools.simulator.model import World

APP_ID = "history"
"""The app the history's events are recorded for, so they are never mistaken for live
traffic in data-quality views."""


@dataclass(frozen=True)
class BuildOptions:
    workers: int = 2
    run_pipeline: bool = True
    segment_max_bytes: int = 16 * 1024 * 1024
    """Small enough that a pipeline run of `segments_per_run` segments fits in memory."""
    segments_per_run: int = 16
    progress_every_s: float = 5.0


@dataclass(frozen=True)
class HistoryResult:
    plan: HistoryPlan
    shards_written: int
    shards_skipped: int
    creators: int
    content: int
    generation: GenerationSummary
    pipeline: PipelineSummary | None


def writer_config(settings: Settings, options: BuildOptions) -> WriterConfig:
    """Validation exactly as the API's (`ingestion_api.collector`): same key, same horizons."""
    return WriterConfig(
        data_dir=settings.data_dir,
        pseudonym_key=settings.resolved_pseudonym_key(),
        app_id=APP_ID,
        future_horizon_s=settings.future_horizon_s,
        lateness_horizon_s=settings.lateness_horizon_s,
        segment_max_bytes=options.segment_max_bytes,
    )


def write_catalogue(plan: HistoryPlan, settings: Settings) -> tuple[int, int]:
    """Upsert every creator and title the history's events can name (merged by id with
    what the catalogue already holds); returns how many records each file now has."""
    world = World(plan.seed, plan.creators)
    creators, content = world.catalogue_for_traffic(
        plan.start_ms, plan.end_ms, int(WARMUP_S * 1000)
    )
    store = CatalogStore(settings.layout.catalog_dir)
    return store.upsert("creators", creators), store.upsert("content", content)


def build_history(plan: HistoryPlan, settings: Settings, options: BuildOptions) -> HistoryResult:
    layout = settings.layout.ensure()
    manifest = Manifest.load(settings.data_dir)
    todo = manifest.todo(plan)
    if todo:
        manifest.begin(plan)
    creators, content = write_catalogue(plan, settings)
    generation = write_history(
        plan,
        todo,
        writer_config(settings, options),
        options.workers,
        options.progress_every_s,
        on_shard_done=lambda shard: manifest.mark_done(plan, shard),
    )
    pipeline = None
    if options.run_pipeline:
        pipeline = run_pipeline(
            layout, generation.accepted, options.segments_per_run, options.progress_every_s
        )
    return HistoryResult(
        plan=plan,
        shards_written=len(todo),
        shards_skipped=len(plan.shards()) - len(todo),
        creators=creators,
        content=content,
        generation=generation,
        pipeline=pipeline,
    )

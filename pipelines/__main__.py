"""`python -m pipelines local|streaming|replay|export-snowflake ...`: the pipeline's command line.

- `local [--once] [--interval-s 2] [--max-segments-per-run N]`: local mode over the segment
  log named by MARQUEE_EVENT_LOG_URL (default: the data directory's `log/`);
- `streaming [--source URL] [--sink lake|snowflake] [Beam options]`: the unbounded job over
  Kafka or Pub/Sub (docs/pipelines-streaming.md); options it does not know go to Beam
  (`--runner`, `--project`, `--flink_master`, ...);
- `replay --segments FROM..TO | --quarantine [--since T] [--until T]`: count what a range of
  sealed segments or the quarantine holds that was never counted (`pipelines.replay`);
- `export-snowflake [--runs FROM..TO]`: copy the lake's runs to Snowflake;
- `compact`: retention and lake compaction until nothing is left to compact
  (`pipelines.maintenance`; local mode's loop also does it every
  MARQUEE_COMPACTION_INTERVAL_S).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from marquee.eventlog.factory import local_directory
from marquee.settings import Settings, get_settings


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m pipelines")
    commands = parser.add_subparsers(dest="command", required=True)
    local = commands.add_parser("local", help="bounded Beam runs over newly sealed segments")
    local.add_argument("--once", action="store_true", help="process every sealed segment, exit")
    local.add_argument("--interval-s", type=float, default=2.0, help="seconds between runs")
    local.add_argument(
        "--max-segments-per-run", type=int, default=500, help="bounds one run's memory"
    )
    _add_streaming(commands)
    export = commands.add_parser(
        "export-snowflake",
        help="write the lake's runs to Snowflake (MARQUEE_SNOWFLAKE_*); a rerun replaces them",
    )
    export.add_argument("--runs", metavar="FROM..TO", default="..", help="run ids, e.g. 5..9")
    _add_replay(commands)
    commands.add_parser(
        "compact",
        help="delete expired segments and compact the lake's run files (docs/reliability.md)",
    )
    return parser


def _add_streaming(commands: argparse._SubParsersAction) -> None:
    from pipelines.streaming import (
        DEFAULT_EARLY_FIRING_S,
        DEFAULT_SHARDS,
    )

    streaming = commands.add_parser(
        "streaming",
        help="one unbounded Beam job over Kafka or Pub/Sub (Dataflow, Flink)",
        description="Unknown options are Beam pipeline options (--runner, --project, ...).",
    )
    streaming.add_argument(
        "--source", help="kafka://... or pubsub://... (default: MARQUEE_EVENT_LOG_URL)"
    )
    streaming.add_argument(
        "--subscription", help="Pub/Sub subscription projects/P/subscriptions/S to read"
    )
    streaming.add_argument(
        "--kafka-consumer-config",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra Kafka consumer property (repeatable), e.g. group.id=marquee",
    )
    streaming.add_argument("--sink", choices=["lake", "snowflake"], default="lake")
    streaming.add_argument(
        "--allowed-lateness-s",
        type=int,
        help="default: the ingestion lateness horizon (MARQUEE_LATENESS_HORIZON_S)",
    )
    streaming.add_argument(
        "--dedup-window-s",
        type=int,
        help="how long an event id is remembered; default: the ingestion lateness horizon "
        "(METRICS.md: an id counts once however late it is re-sent within the horizon)",
    )
    streaming.add_argument("--early-firing-s", type=int, default=DEFAULT_EARLY_FIRING_S)
    streaming.add_argument("--shards", type=int, default=DEFAULT_SHARDS)


def _add_replay(commands: argparse._SubParsersAction) -> None:
    replay = commands.add_parser(
        "replay", help="count what sealed segments or the quarantine hold and was never counted"
    )
    what = replay.add_mutually_exclusive_group(required=True)
    what.add_argument(
        "--segments",
        metavar="FROM..TO",
        help="segment names (or name prefixes, e.g. creation times in ms); either end may "
        "be empty: '..' is every sealed segment",
    )
    what.add_argument("--quarantine", action="store_true", help="re-validate quarantined records")
    replay.add_argument("--since", help="quarantine: records quarantined at or after (ISO or ms)")
    replay.add_argument("--until", help="quarantine: records quarantined before (ISO or ms)")
    replay.add_argument("--no-progress", action="store_true", help="no progress bar (logs, CI)")
    replay.add_argument(
        "--no-run",
        action="store_true",
        help="only feed the event log; a running `pipelines local` counts the records",
    )


def main(argv: list[str] | None = None) -> None:
    # Before anything imports Beam, whose import logs through the root logger and would
    # otherwise configure it first (at WARNING, hiding the runs' INFO lines).
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("apache_beam").setLevel(logging.WARNING)
    parser = _parser()
    args, beam_args = parser.parse_known_args(argv)
    if beam_args and args.command != "streaming":
        parser.error(f"unrecognized arguments: {' '.join(beam_args)}")
    settings = get_settings()
    if args.command == "local":
        from pipelines.local_runner import run_local

        log_dir = local_directory(settings.event_log_url, settings.layout.log_dir)
        if log_dir is None:
            parser.error(
                "local mode reads a segment log, but MARQUEE_EVENT_LOG_URL names a broker: "
                "run the streaming pipeline for Kafka or Pub/Sub"
            )
        run_local(
            settings.layout,
            once=args.once,
            interval_s=args.interval_s,
            max_segments_per_run=args.max_segments_per_run,
            log_dir=log_dir,
        )
    elif args.command == "streaming":
        _run_streaming(parser, args, beam_args)
    elif args.command == "replay":
        from pipelines.replay import run_replay_command

        sys.exit(run_replay_command(parser, args, settings))
    elif args.command == "export-snowflake":
        _export_snowflake(parser, args.runs, settings.layout.lake_dir)
    elif args.command == "compact":
        _compact(settings)


def _compact(settings: Settings) -> None:
    from pipelines.compaction import lake_file_counts
    from pipelines.ledger import Ledger
    from pipelines.maintenance import Maintenance

    layout = settings.layout.ensure()
    log_dir = local_directory(settings.event_log_url, layout.log_dir) or layout.log_dir
    before = sum(lake_file_counts(layout).values())
    written = Maintenance.of(settings, layout, Ledger(layout.state_db), log_dir).until_done()
    after = sum(lake_file_counts(layout).values())
    logging.getLogger("pipelines").info(
        "compact: %d files written; lake files %d -> %d (replaced files go after %.0f s)",
        written, before, after, settings.compaction_grace_s,
    )  # fmt: skip


def _export_snowflake(parser: argparse.ArgumentParser, runs: str, lake_dir: Path) -> None:
    from pipelines.sinks.snowflake import SnowflakeSink, export_lake_runs, lake_run_ids

    first, sep, last = runs.partition("..")
    if not sep or not all(part.isdigit() for part in (first, last) if part):
        parser.error(f"--runs {runs!r} is not FROM..TO (run ids; either end may be empty)")
    chosen = [
        run_id
        for run_id in lake_run_ids(lake_dir)
        if (not first or run_id >= int(first)) and (not last or run_id <= int(last))
    ]
    with SnowflakeSink.from_env() as sink:
        rows = export_lake_runs(lake_dir, sink, chosen)
    logging.getLogger("pipelines").info("exported %d runs, %d rows", len(chosen), rows)


def _run_streaming(
    parser: argparse.ArgumentParser, args: argparse.Namespace, beam_args: list[str]
) -> None:
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

    from pipelines.sinks.lake import LakeSink
    from pipelines.streaming import (
        SourceSpec,
        StreamingConfig,
        build_streaming_pipeline,
        open_snowflake_sink,
    )

    settings = get_settings()
    url = args.source or settings.event_log_url
    if local_directory(url, settings.layout.log_dir) is not None:
        parser.error(
            f"streaming mode reads Kafka or Pub/Sub; {url!r} is a segment log: "
            "use `python -m pipelines local`, or pass --source kafka://... / pubsub://..."
        )
    consumer: dict[str, str] = {}
    for pair in args.kafka_consumer_config:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            parser.error(f"--kafka-consumer-config {pair!r} is not KEY=VALUE")
        consumer[key] = value
    config = StreamingConfig(
        allowed_lateness_s=args.allowed_lateness_s or settings.lateness_horizon_s,
        dedup_window_s=args.dedup_window_s or settings.lateness_horizon_s,
        early_firing_s=args.early_firing_s,
        shards=args.shards,
    )
    lake_dir = settings.layout.lake_dir
    open_sink = open_snowflake_sink if args.sink == "snowflake" else LakeSink(str(lake_dir))
    options = PipelineOptions(beam_args)
    options.view_as(StandardOptions).streaming = True
    with beam.Pipeline(options=options) as pipeline:
        build_streaming_pipeline(
            pipeline,
            SourceSpec(url, args.subscription, consumer),
            config,
            open_sink,
            lake_dir,
        )


if __name__ == "__main__":
    main()

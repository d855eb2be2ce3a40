"""`python -m benchmarks [--events N]`: run every benchmark and print its figures."""

from __future__ import annotations

import argparse

from benchmarks import ingest, pipeline


def show(title: str, figures: dict[str, float]) -> None:
    print(f"\n{title}")
    for name, value in figures.items():
        shown = f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3f}"
        print(f"  {name:28} {shown}")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("--events", type=int, default=200_000)
    args = parser.parse_args()
    show("ingestion: API (1 worker, 32 connections, 100-event batches) vs no-HTTP baseline",
         ingest.run(args.events))  # fmt: skip
    show("pipeline: local mode (Beam, one core) vs plain Polars floor", pipeline.run(args.events))


if __name__ == "__main__":
    main()

"""`python -m ingestion_api --host 127.0.0.1 --port 8000 [--workers N]`.

Binds to 127.0.0.1 unless told otherwise. SIGINT or SIGTERM shut down gracefully: requests
in flight finish and the open segment is sealed. Logs are JSON lines on stderr.

With more than one worker, Prometheus metrics need prometheus_client's multiprocess mode:
when PROMETHEUS_MULTIPROC_DIR is unset a fresh temporary directory is made for this run
(and removed at exit); when it is set, its stale `*.db` files from a previous run are
removed first, as prometheus_client requires.

Connections are served by `http_limits.LimitedHttpToolsProtocol` (head size and count
limits, head and body deadlines); idle keep-alive connections and the number of
connections use uvicorn's own settings, all from `MARQUEE_HTTP_*` (docs/api.md).
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
from pathlib import Path

import uvicorn

from marquee.settings import get_settings


def _prepare_multiprocess_metrics(workers: int) -> Path | None:
    """Set up PROMETHEUS_MULTIPROC_DIR before the workers start; the directory to remove."""
    configured = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if configured:
        directory = Path(configured)
        directory.mkdir(parents=True, exist_ok=True)
        for stale in directory.glob("*.db"):
            stale.unlink()
        return None
    if workers <= 1:
        return None
    made = Path(tempfile.mkdtemp(prefix="marquee-metrics-"))
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(made)
    return made


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m ingestion_api", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=1, help="worker processes")
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args()
    metrics_dir = _prepare_multiprocess_metrics(args.workers)
    # Imported only now: prometheus_client picks its value store from the environment
    # when first imported, and in a single worker this process serves the metrics.
    from ingestion_api.observability import log_config

    settings = get_settings()
    try:
        uvicorn.run(
            "ingestion_api.app:create_app",
            factory=True,
            host=args.host,
            port=args.port,
            workers=args.workers,
            log_level=args.log_level,
            log_config=log_config(args.log_level),
            access_log=False,
            server_header=False,
            http="ingestion_api.http_limits:LimitedHttpToolsProtocol",
            timeout_keep_alive=settings.http_keep_alive_timeout_s,
            limit_concurrency=settings.http_max_connections + 1,  # http_limits answers first
        )
    finally:
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)


if __name__ == "__main__":
    main()

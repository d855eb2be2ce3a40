"""The refresh processes' log lines: the loop and its children write one format to stdout,
so the demo and an operator read one interleaved stream."""

from __future__ import annotations

import logging
import sys

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure_logging() -> None:
    logging.basicConfig(level=logging.INFO, stream=sys.stdout, format=LOG_FORMAT)

"""Plain helpers the tests share: builders, readers and process launchers, no fixtures.

Fixtures live in `tests/conftest.py`; test modules import helpers from here and never from
another test module or from conftest, so each test module can be read and moved on its own.
"""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
"""The repository's root: the working directory of every process the tests start."""

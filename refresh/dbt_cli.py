"""The `dbt` command on the local DuckDB target for one data directory, and its result.

Shared by the refresh loop, its long-lived worker (`refresh.dbt_worker`), the tests and
the benchmarks, so every build runs with the same project, profile, target and artifact
directories.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from marquee.layout import DataLayout
from marquee.settings import PROJECT_ROOT

DBT_PROJECT_DIR = PROJECT_ROOT / "dbt"
DBT_TARGET = "duckdb"


@dataclass(frozen=True)
class DbtBuildResult:
    success: bool
    returncode: int
    duration_s: float
    output: str
    cpu_s: float | None = None
    """User + system CPU seconds of the build (dbt and DuckDB's threads); measured by the
    dbt worker only, whose process is its own."""

    @property
    def summary(self) -> str:
        """dbt's closing tally, e.g. `PASS=55 WARN=0 ERROR=0 SKIP=0 NO-OP=0 TOTAL=55`."""
        match = re.search(r"Done\. (PASS=.*)$", self.output, flags=re.MULTILINE)
        return match.group(1).strip() if match else f"exit code {self.returncode}"

    def tail(self, lines: int = 40) -> str:
        """The last `lines` lines of dbt's output: where a failed build names what failed."""
        return "\n".join(self.output.rstrip().splitlines()[-lines:])


def dbt_command(layout: DataLayout, *args: str) -> list[str]:
    """A dbt command line on the local target, using the dbt installed next to Python."""
    executable = Path(sys.executable).parent / "dbt"
    if not executable.exists():
        found = shutil.which("dbt")
        if found is None:
            raise FileNotFoundError(f"no dbt executable next to {sys.executable} or on PATH")
        executable = Path(found)
    return [str(executable), *dbt_arguments(layout, *args)]


def dbt_arguments(layout: DataLayout, *args: str, project_dir: Path = DBT_PROJECT_DIR) -> list[str]:
    """`args` plus the project, profile, target and artifact options of this data
    directory: the command line without the executable, as dbt's Python API takes it."""
    artifacts = layout.dbt_artifacts
    return [
        *args,
        "--project-dir",
        str(project_dir),
        "--profiles-dir",
        str(project_dir),
        "--target",
        DBT_TARGET,
        "--target-path",
        str(artifacts / "target"),
        "--log-path",
        str(artifacts / "logs"),
    ]


DBT_BYTECODE_CACHE = Path(sys.prefix) / "pycache"
"""Where the dbt process keeps its compiled bytecode (PYTHONPYCACHEPREFIX), inside the
virtual environment. With PYTHONDONTWRITEBYTECODE set, as it is in this project's shells,
every dbt invocation compiled its ~1,300 modules from source again: seconds of CPU per
build, about a third of an incremental build's fixed cost."""


PROJECT_SOURCES = ("models", "macros", "tests", "dbt_project.yml", "profiles.yml")
"""What a parse of the dbt project reads, under its directory."""


def project_fingerprint(project_dir: Path = DBT_PROJECT_DIR) -> tuple[tuple[str, int, int], ...]:
    """Every project source file's path, size and modification time: differs after any
    edit, addition or removal, so a parsed manifest can be known stale (a few ms)."""
    files: list[Path] = []
    for name in PROJECT_SOURCES:
        source = project_dir / name
        if source.is_dir():
            files.extend(path for path in source.rglob("*") if path.is_file())
        elif source.is_file():
            files.append(source)
    fingerprint = []
    for path in sorted(files):
        stat = path.stat()
        fingerprint.append((str(path.relative_to(project_dir)), stat.st_size, stat.st_mtime_ns))
    return tuple(fingerprint)


def dbt_environment(layout: DataLayout) -> dict[str, str]:
    environment = {
        **os.environ,
        "MARQUEE_DATA_DIR": str(layout.root.resolve()),
        "DBT_USE_COLORS": "false",
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DO_NOT_TRACK": "1",
        "PYTHONPYCACHEPREFIX": str(DBT_BYTECODE_CACHE),
    }
    environment.pop("PYTHONDONTWRITEBYTECODE", None)
    return environment


def run_dbt_build(layout: DataLayout, *args: str) -> DbtBuildResult:
    """Run `dbt build [args]` (models, unit tests and data tests) and capture its output."""
    started = time.monotonic()
    completed = subprocess.run(
        dbt_command(layout, "build", *args),
        cwd=DBT_PROJECT_DIR,
        env=dbt_environment(layout),
        capture_output=True,
        text=True,
        check=False,
    )
    return DbtBuildResult(
        success=completed.returncode == 0,
        returncode=completed.returncode,
        duration_s=time.monotonic() - started,
        output=completed.stdout + completed.stderr,
    )

"""What a refresh cycle's dbt passes built and what their data tests found.

dbt writes `target/run_results.json` after each invocation: one result per node with its
status (`success`, `error`, `skipped` for models; `pass`, `warn`, `fail`, `error` for
tests) and, for a test, how many rows failed it. The refresh loop reads it after each pass
and records the cycle in `state/refresh_status.json` (`DataLayout.refresh_status`), which
the refresh's output and the dashboards' data health show.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from marquee.durable import replace_durably


@dataclass(frozen=True)
class NodeProblem:
    """A model that did not build, or a data test that did not pass."""

    name: str
    status: str
    failing_rows: int | None
    message: str


@dataclass
class PassResults:
    """The nodes of one dbt invocation by outcome (empty when dbt wrote no results: it
    stopped before running any node, at parse or compile time)."""

    succeeded: int = 0
    problems: list[NodeProblem] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    @property
    def ran(self) -> bool:
        return bool(self.succeeded or self.problems or self.skipped)

    def with_status(self, *statuses: str) -> list[NodeProblem]:
        return [problem for problem in self.problems if problem.status in statuses]


def read_pass_results(run_results: Path) -> PassResults:
    """The results dbt wrote (none if it wrote no file: the caller deletes the file before
    each invocation; a file's time would need the clock and the file system to agree)."""
    try:
        document = json.loads(run_results.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return PassResults()
    results = PassResults()
    for node in document.get("results", []):
        status = str(node.get("status"))
        # `model.<project>.<name>`, `test.<project>.<name>.<hash>`
        parts = str(node.get("unique_id", "")).split(".")
        name = parts[2] if len(parts) > 2 else ".".join(parts)
        if status in ("success", "pass"):
            # The project's on-run-start hooks (`operation.<project>.<hook>`) are not nodes
            # the cycle built; one that fails is still reported below.
            if parts[0] != "operation":
                results.succeeded += 1
        elif status == "skipped":
            results.skipped.append(name)
        else:
            failures = node.get("failures")
            results.problems.append(
                NodeProblem(
                    name=name,
                    status=status,
                    failing_rows=int(failures) if isinstance(failures, int) else None,
                    message=" ".join(str(node.get("message") or "").split())[:500],
                )
            )
    return results


@dataclass
class RefreshStatus:
    """One refresh cycle, as `state/refresh_status.json` keeps it."""

    started_at_ms: int
    finished_at_ms: int
    models_built: int
    model_errors: list[NodeProblem]
    models_skipped: list[str]
    tests_passed: int
    test_failures: list[NodeProblem]
    test_warnings: list[NodeProblem]
    tested_all_rows: bool
    """The tests covered every row, not only the rows this cycle wrote."""
    checks_ok: bool | None
    published: bool
    checks_verdict: str | None = None
    """The expectations checkpoint's verdict: `passed`, `warning`, `critical`, `crashed`,
    or None when it did not run."""
    check_failures: list[dict[str, str]] = field(default_factory=list)
    """Each failed expectation: suite, severity, expectation and a readable message."""
    kept_previous_copy: bool = False
    """A critical expectation failed, so serving.duckdb was not replaced: the dashboards
    show the previous published copy."""

    def write(self, path: Path) -> None:
        """Replace the file whole (temporary name, fsync, rename)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(json.dumps(asdict(self), indent=1))
        replace_durably(tmp, path)


def read_refresh_status(path: Path) -> dict[str, Any] | None:
    """The last cycle's status as written, or None before the first cycle."""
    try:
        return dict(json.loads(path.read_text()))
    except (FileNotFoundError, json.JSONDecodeError):
        return None

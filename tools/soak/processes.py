"""What the soak reads about its processes, from /proc (Linux): the refresh loop's worker
children (dbt, checkpoint), each process's resident memory and open files, and the memory
slope over a run."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")


@dataclass(frozen=True)
class ProcessFigures:
    pid: int
    rss_mb: float
    open_files: int


def figures(pid: int) -> ProcessFigures | None:
    """Resident memory (VmRSS) and open file descriptors; None when the process is gone."""
    try:
        status = (PROC / str(pid) / "status").read_text()
        open_files = len(os.listdir(PROC / str(pid) / "fd"))
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    rss_kb = next(
        (int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0
    )
    return ProcessFigures(pid, rss_kb / 1024, open_files)


def children(pid: int, module: str | None = None) -> list[int]:
    """The live children of `pid` (a scan of /proc/*/stat: the kernel's `children` file is
    not always built in); with `module`, only those running `python -m <module>`."""
    found = []
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        # Fields after the command name, which is in parentheses and may hold spaces.
        fields = stat[stat.rfind(")") + 2 :].split()
        if int(fields[1]) == pid and fields[0] != "Z" and _runs(entry, module):
            found.append(int(entry.name))
    return sorted(found)


def _runs(process: Path, module: str | None) -> bool:
    if module is None:
        return True
    try:
        arguments = (process / "cmdline").read_bytes().split(b"\0")
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return False
    return module.encode() in arguments


def slope_mb_per_10_min(samples: list[tuple[float, float]]) -> float | None:
    """Least-squares slope of (seconds, MB) samples, in MB per 10 minutes; None with fewer
    than two distinct times."""
    if len({t for t, _ in samples}) < 2:
        return None
    n = len(samples)
    mean_t = sum(t for t, _ in samples) / n
    mean_mb = sum(mb for _, mb in samples) / n
    covariance = sum((t - mean_t) * (mb - mean_mb) for t, mb in samples)
    variance = sum((t - mean_t) ** 2 for t, _ in samples)
    return covariance / variance * 600

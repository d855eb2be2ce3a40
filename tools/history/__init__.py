"""Simulated history at scale: N days of the simulator's traffic for M creators.

`python -m tools.history --days N --creators M` writes the traffic straight into the
local segment event log through the API's own validation and enrichment (no HTTP), on
every core, writes the catalogue, then runs the local pipeline over it, so marts,
dashboards and benchmarks can be exercised at realistic size.

Modules, in the order the work flows:

- `plan`: the range, the rate and the shards (one UTC day each) generated independently;
- `manifest`: which shards a data directory already holds (resume, append, refuse mixing);
- `shard`: one shard: the simulator's vectorised traffic (`tools.simulator.vector`),
  validated by the API's decoder in bulk -> sealed segments;
- `worker`: what a shard's worker process is given and gives back;
- `generate`: shards across processes, with progress;
- `pipeline`: `LocalRunner` over the result, with progress;
- `__main__`: the command.
"""

from tools.history.generate import GenerationSummary, write_history
from tools.history.manifest import HistoryMismatch, Manifest
from tools.history.pipeline import PipelineSummary, run_pipeline
from tools.history.plan import HistoryPlan, Shard, default_rate
from tools.history.worker import ShardResult, WriterConfig

__all__ = [
    "GenerationSummary",
    "HistoryMismatch",
    "HistoryPlan",
    "Manifest",
    "PipelineSummary",
    "Shard",
    "ShardResult",
    "WriterConfig",
    "default_rate",
    "run_pipeline",
    "write_history",
]

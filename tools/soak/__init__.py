"""`make soak` (`python -m tools.soak`): the platform's long-running parts under steady load,
optionally killed with SIGKILL at random moments, then its figures and an exactly-once check.

The demo's API, pipeline loop, alert evaluator and refresh loop (`tools.demo.parts`, under
its `Supervisor`, which restarts an exited part with backoff) run on a fresh data directory
while the soak's own client (`tools.soak.client`) posts batches of valid and invalid events
with fixed ids, retrying each until acknowledged. With `--kill-every S`, one of the API, the
pipeline, the refresh loop or its dbt worker (the loop's child) is killed about every S
seconds. At the end: events/s acknowledged, p99 request latency, resident memory and open
files of each process at start and end with the memory slope (for the refresh loop's
checkpoint worker, replaced every 10 checkpoints by design, no slope but the highest memory
of each worker and how many were seen), their total, the data directory's size, lake files
per table, quarantined events by reason, the kills; then, once every batch is
acknowledged and the pipeline has consumed every log segment, every content-minute of
the lake's `minute_aggregates` must hold exactly the acknowledged attempts and played ms,
and a refresh cycle started after the last kill (without kills: after the load began)
must publish. Exit status 0 when both hold, else 1.
"""

"""Apache Beam pipelines that turn the event log into mergeable aggregates.

`records` reads log segments into Polars frames; `aggregates` (per-minute tables), `views`
(view partials and `finalize_views`) and `viewer_facts` hold the pure columnar
computations; `validation` is the one check of log records (reasons in `dead_letters`)
both modes run; `transforms` wraps them as named Beam transforms; `ledger` is the run ledger
and deduplication state; `local_runner` runs bounded pipelines over newly sealed segments
and commits their outputs exactly once.
"""

"""The refresh loop: builds the dbt project on the lake, runs its tests and the Great
Expectations checkpoint, and publishes the read-only copy the dashboards open.

`python -m refresh` runs it (`refresh.loop`); dbt runs in a long-lived worker process
(`refresh.dbt_worker`), driven through `refresh.dbt_cli`; each cycle's outcome is written by
`refresh.build_report`.
"""

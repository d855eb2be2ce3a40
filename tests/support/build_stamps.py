"""Which warehouse columns are build stamps: when the build that wrote a row started
(`built_at_ms`), the newest such stamp of an upstream model a row was built from
(`views_built_at_ms`, `staged_built_at_ms`, `minutes_built_at_ms`, ...), or when the build
that first read a catalogue record as it is started (`changed_at_ms`). They differ between
any two builds by design, so comparisons of two builds' rows leave them out."""


def is_build_stamp(column: str) -> bool:
    return column in ("built_at_ms", "changed_at_ms") or column.endswith("_built_at_ms")

"""The SQL of each dashboard page, one module per page, run through `dashboards.data.query`.

Every statement is constant text with `?` parameters; filters become parameters (an unset
filter is NULL and matches everything), never SQL text.
"""

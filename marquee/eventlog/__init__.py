"""The event log: where the API appends accepted events and the pipeline reads them.

The local implementation is a directory of segment files (`segments.py`); the API shares
one fsync among concurrent requests through `group_commit.py`.
"""

"""The event log: where the API appends accepted events and the pipeline reads them.

An interface chosen by URL (`factory.open_event_log`, `base.EventLog`): the local default is
a directory of segment files (`segments.py`) behind group commit (`group_commit.py`, one
fsync shared by concurrent requests); production publishes to Kafka (`kafka.py`) or Pub/Sub
(`pubsub.py`). See docs/event-log.md.
"""

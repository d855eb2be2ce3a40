"""The ingestion API: the collector players and apps post analytics events to.

Routes (`routes.py`) stay thin: reading the body within limits (`body.py`), checking write
keys (`auth.py`), validating against the contract (`marquee.events`), enriching and
pseudonymising (`enrich.py`), keeping rejections (`quarantine.py`) and appending durably to
the event log (`marquee.eventlog`) each live in their own module.
"""

"""How an event enters the platform, shared by every path that writes the event log (the API,
the history generator, the quarantine replay): reading a body (`body`), validating and
enriching it (`enrich`), appending the accepted events and quarantining the rest (`ingest`,
`quarantine`)."""

"""The simulator's model over whole hours of traffic at once, with numpy and polars.

`python -m tools.history` uses it by default (`--engine vectorised`): the scalar
simulator builds every event as a Python dict and runs it through the API's per-event
enrichment, about 20,000 events per CPU second; this package plans the same kinds of
arrivals, views, ads, stories and engagement as columns and writes the records the API
would write in bulk, after the API's decoder has validated every event.

Modules, in the order data flows through them:

- `population`: the viewers (as arrays) and every title (from the simulator's `World`);
- `traffic`: arrivals per hour, what each watches, delivery faults;
- `playback`, `stories`, `engagement`: the behaviour, as columns of events (`pieces`);
- `records`: client JSON and log records for whole frames;
- `writer`: validation, the check against the API, segments and quarantine.
"""

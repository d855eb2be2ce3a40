"""The simulator's engine: its model over whole minutes or hours of traffic at once.

Arrivals, views, ads, stories and engagement are planned as numpy and polars columns, not
event by event, so one core plans and writes tens of thousands of events per CPU second;
`tools.simulator.stream` hands them out in real time (the command line, `make demo`) and
`tools.history.shard` writes days of them into the log. The event-by-event reference model
(`tools.simulator.engine.Simulator`) is what the tests hold this engine to.

Modules, in the order data flows through them:

- `population`: the viewers (as arrays) and every title (from the simulator's `World`);
- `traffic`: arrivals per stretch of time, what each watches, delivery faults;
- `playback`, `stories`, `engagement`, `discovery`, `latency`: the behaviour, as columns of
  events (`pieces`);
- `records`: client JSON and log records for whole frames.
"""

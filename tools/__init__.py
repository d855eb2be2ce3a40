"""Tools around the platform, never imported by it: the traffic simulator
(`tools.simulator`), the simulated-history generator (`tools.history`), the demo supervisor
(`tools.demo`) and the dashboard screenshots (`tools.screenshots`)."""

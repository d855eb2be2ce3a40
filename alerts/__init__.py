"""Alerts on the minute-level data the pipeline commits: rules in YAML (`alerts.rules`),
judged after each commit (`alerts.evaluate`), one notification when an alert starts firing
and one when it resolves (`alerts.state`), delivered to a webhook (`alerts.delivery`) by
the loop `python -m alerts` (`alerts.loop`). docs/alerts.md has the rules and the payload.
"""

"""Builders and readers the tests share."""

"""Marquee: creator and playback analytics for social video.

This package holds what every part of the platform shares: the event contract
(`marquee.events`), settings read from the environment (`marquee.settings`), the data
directory layout (`marquee.layout`) and the segment event log (`marquee.eventlog`).
"""

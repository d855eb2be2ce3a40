"""`make bench`: throughput figures, each as a ratio to a baseline measured in the same run.

These machines are noisy, so an absolute figure alone says little; the ratio to a baseline
doing the same work without the part being measured (HTTP for the API, Beam for the
pipeline) is what to compare between runs.
"""

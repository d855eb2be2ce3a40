"""`make bench`: throughput figures, each as a ratio to a baseline measured in the same run.

These machines are noisy, so an absolute figure alone says little; the ratio to a baseline
doing the same work without the part being measured (HTTP for the API, Beam for the
pipeline) is what to compare between runs.
"""


def show(title: str, figures: dict[str, float]) -> None:
    """Print a benchmark's figures under its title, one aligned line each."""
    print(f"\n{title}")
    for name, value in figures.items():
        shown = f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3f}"
        print(f"  {name:36} {shown}")

"""A dataset the checkpoint validates: how to read it and the expectation suite it must meet.

Each module under `expectations/suites/` defines one `Dataset`. Every expectation carries a
GX 1.x `severity`: `critical` (the data is wrong; the refresh keeps the previous published
copy) or `warning` (suspicious; the refresh publishes and says so), and a `description`
that the checkpoint's messages, the refresh output and the Data health page use as the
rule's readable name. The helpers here build the expectations most suites share.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    import pandas as pd
    from great_expectations.core.expectation_suite import ExpectationSuite
    from great_expectations.expectations.expectation import Expectation
    from great_expectations.expectations.metadata_types import FailureSeverity

    from expectations.sources import Sources

Severity = Literal["critical", "warning"]
Layer = Literal["raw", "lake", "mart"]


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def gx_severity(severity: Severity) -> FailureSeverity:
    """GX's enum for a severity (GX 1.x expectations carry it; `critical` by default)."""
    from great_expectations.expectations.metadata_types import FailureSeverity

    return FailureSeverity(severity)


@dataclass(frozen=True)
class Dataset:
    """One suite over one frame: `load` returns None when the data does not exist."""

    name: str
    layer: Layer
    description: str
    load: Callable[[Sources], pd.DataFrame | None]
    build: Callable[[SuiteBuilder], None]
    required: bool = True
    """A missing dataset is a critical failure (a mart dbt should have built); raw data
    that has not arrived yet (an empty log) is not."""

    def suite(self) -> ExpectationSuite:
        builder = SuiteBuilder(self.name)
        self.build(builder)
        return builder.suite


class SuiteBuilder:
    """An ExpectationSuite under construction, with one method per kind of rule."""

    def __init__(self, name: str) -> None:
        import great_expectations as gx

        self.suite = gx.ExpectationSuite(name=name)

    def add(self, expectation: Expectation) -> None:
        self.suite.add_expectation(expectation)

    def columns(self, columns: Iterable[str], severity: Severity = "critical") -> None:
        """Every named column exists (others may too)."""
        import great_expectations.expectations as gxe

        names = list(columns)
        self.add(
            gxe.ExpectTableColumnsToMatchSet(
                column_set=names,
                exact_match=False,
                severity=gx_severity(severity),
                description=f"columns present: {', '.join(names)}",
            )
        )

    def not_null(
        self, columns: Iterable[str], severity: Severity = "critical", mostly: float = 1.0
    ) -> None:
        import great_expectations.expectations as gxe

        for column in columns:
            self.add(
                gxe.ExpectColumnValuesToNotBeNull(
                    column=column,
                    mostly=mostly,
                    severity=gx_severity(severity),
                    description=f"{column} is never null",
                )
            )

    def between(
        self,
        columns: Iterable[str],
        low: float | None,
        high: float | None = None,
        severity: Severity = "critical",
        why: str = "",
        mostly: float = 1.0,
    ) -> None:
        import great_expectations.expectations as gxe

        for column in columns:
            if high is None:
                what = f"{column} >= {_number(low)}" if low is not None else column
            elif low is None:
                what = f"{column} <= {_number(high)}"
            else:
                what = f"{column} within [{_number(low)}, {_number(high)}]"
            self.add(
                gxe.ExpectColumnValuesToBeBetween(
                    column=column,
                    min_value=low,
                    max_value=high,
                    mostly=mostly,
                    severity=gx_severity(severity),
                    description=f"{what}{f' ({why})' if why else ''}",
                )
            )

    def non_negative(self, columns: Iterable[str], severity: Severity = "critical") -> None:
        self.between(columns, 0, None, severity)

    def percent(self, columns: Iterable[str], severity: Severity = "critical") -> None:
        """Ratios in percent lie in [0, 100]."""
        self.between(columns, 0, 100, severity, "a percentage")

    def in_set(
        self, column: str, values: Iterable[object], severity: Severity = "critical"
    ) -> None:
        import great_expectations.expectations as gxe

        allowed = list(values)
        self.add(
            gxe.ExpectColumnValuesToBeInSet(
                column=column,
                value_set=allowed,
                severity=gx_severity(severity),
                description=f"{column} is one of {', '.join(map(str, allowed))}",
            )
        )

    def matches(self, column: str, regex: str, what: str, severity: Severity = "critical") -> None:
        import great_expectations.expectations as gxe

        self.add(
            gxe.ExpectColumnValuesToMatchRegex(
                column=column,
                regex=regex,
                severity=gx_severity(severity),
                description=f"{column} is {what}",
            )
        )

    def unique(self, columns: Iterable[str], severity: Severity = "critical") -> None:
        """The columns together are a key."""
        import great_expectations.expectations as gxe

        names = list(columns)
        if len(names) == 1:
            expectation: Expectation = gxe.ExpectColumnValuesToBeUnique(
                column=names[0], severity=gx_severity(severity), description=f"{names[0]} is unique"
            )
        else:
            expectation = gxe.ExpectCompoundColumnsToBeUnique(
                column_list=names,
                severity=gx_severity(severity),
                description=f"one row per ({', '.join(names)})",
            )
        self.add(expectation)

    def at_least(
        self,
        column_a: str,
        column_b: str,
        severity: Severity = "critical",
        why: str = "",
        mostly: float = 1.0,
    ) -> None:
        """column_a >= column_b in every row where both are set."""
        import great_expectations.expectations as gxe

        self.add(
            gxe.ExpectColumnPairValuesAToBeGreaterThanB(
                column_A=column_a,
                column_B=column_b,
                or_equal=True,
                ignore_row_if="either_value_is_missing",
                mostly=mostly,
                severity=gx_severity(severity),
                description=f"{column_b} <= {column_a}{f' ({why})' if why else ''}",
            )
        )

    def equal(
        self, column_a: str, column_b: str, severity: Severity = "critical", why: str = ""
    ) -> None:
        import great_expectations.expectations as gxe

        self.add(
            gxe.ExpectColumnPairValuesToBeEqual(
                column_A=column_a,
                column_B=column_b,
                ignore_row_if="either_value_is_missing",
                severity=gx_severity(severity),
                description=f"{column_a} = {column_b}{f' ({why})' if why else ''}",
            )
        )

    def volume(self, severity: Severity = "critical", floor: float = 0.5) -> None:
        """On a volume frame (`expectations.volume`): the newest complete day keeps at least
        `floor` of its trailing median, per group."""
        self.between(
            ["ratio_to_baseline"],
            floor,
            None,
            severity,
            f"the newest complete day against the median of the {7} days before it",
        )

"""Intervals and tests, all from scipy.stats: the one module of the report that does statistics.

Cases scipy cannot answer (no recipients, one recipient, no spread at all) are answered here as None
(not applicable) or as the exact value, before scipy is asked, rather than as NaN and a warning.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from scipy import stats

CONFIDENCE = 0.95
ALPHA = 1 - CONFIDENCE
MIN_RECIPIENTS_PER_ARM = 100
"""An arm with fewer recipients is too small to call a difference against the control."""
MIN_CONVERSIONS = 10
"""Nor is a comparison whose two arms have fewer conversions between them."""


@dataclass(frozen=True)
class Interval:
    low: float
    high: float

    def __contains__(self, value: float) -> bool:
        return self.low <= value <= self.high


class Verdict(StrEnum):
    SIGNIFICANT = "significant at 95 %"
    NOT_SIGNIFICANT = "no significant difference"
    TOO_FEW = "too few recipients to call"


def proportion_interval(successes: int, trials: int) -> Interval | None:
    """The Wilson score interval of successes / trials."""
    if trials == 0:
        return None
    interval = stats.binomtest(successes, trials).proportion_ci(confidence_level=CONFIDENCE, method="wilson")
    return Interval(float(interval.low), float(interval.high))


def mean_interval(values: Sequence[float]) -> Interval | None:
    """The t-interval of the mean of values, which are never negative (revenue): with few
    conversions the symmetric interval reaches below 0, and is cut at 0 rather than print a
    negative revenue."""
    if len(values) < 2:
        return None
    if min(values) == max(values):
        return Interval(values[0], values[0])
    interval = stats.ttest_1samp(values, 0.0).confidence_interval(CONFIDENCE)
    return Interval(max(0.0, float(interval.low)), float(interval.high))


def fisher_p_value(successes_a: int, trials_a: int, successes_b: int, trials_b: int) -> float | None:
    """Fisher's exact test, two-sided, of two proportions."""
    if trials_a == 0 or trials_b == 0:
        return None
    table = [[successes_a, trials_a - successes_a], [successes_b, trials_b - successes_b]]
    return _p(stats.fisher_exact(table).pvalue)


def welch_p_value(values_a: Sequence[float], values_b: Sequence[float]) -> float | None:
    """Welch's t-test, two-sided, of two means (no assumption that the variances are equal)."""
    if len(values_a) < 2 or len(values_b) < 2:
        return None
    if min(values_a) == max(values_a) and min(values_b) == max(values_b):
        # No spread in either arm: the same constant is no difference, two constants are not a test.
        return 1.0 if values_a[0] == values_b[0] else None
    return _p(stats.ttest_ind(values_a, values_b, equal_var=False).pvalue)


def verdict(p_value: float | None, recipients: tuple[int, int], conversions: tuple[int, int]) -> Verdict:
    if min(recipients) < MIN_RECIPIENTS_PER_ARM or sum(conversions) < MIN_CONVERSIONS or p_value is None:
        return Verdict.TOO_FEW
    return Verdict.SIGNIFICANT if p_value < ALPHA else Verdict.NOT_SIGNIFICANT


def _p(value: float) -> float | None:
    return None if math.isnan(value) else float(value)

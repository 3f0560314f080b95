"""Percentiles, defined once for every figure OneStop reports (benchmarks, scenario outcomes).

Linear interpolation between the closest ranks (numpy's default, and `statistics.quantiles`
with method="inclusive"): p50 of an even-sized sample is the mean of its two middle values,
so p50 agrees with the median.
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0–100) of `values`, which must not be empty."""
    if not 0 <= q <= 100:
        raise ValueError(f"a percentile is between 0 and 100, not {q}")
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)

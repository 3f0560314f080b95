"""One percentile for every reported figure: linear interpolation between closest ranks."""

from __future__ import annotations

import statistics

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orchestrator.tools.percentiles import percentile

samples = st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=2, max_size=50)


class TestPercentile:
    def test_interpolates_between_ranks(self) -> None:
        assert percentile([1, 2, 3, 4], 50) == 2.5
        assert percentile([1, 2, 3, 4], 0) == 1
        assert percentile([1, 2, 3, 4], 100) == 4
        assert percentile([5], 99) == 5

    @given(samples)
    def test_p50_is_the_median(self, values: list[float]) -> None:
        assert percentile(values, 50) == pytest.approx(statistics.median(values), abs=1e-6)

    @given(samples, st.integers(1, 99))
    def test_agrees_with_statistics_quantiles_inclusive(self, values: list[float], q: int) -> None:
        expected = statistics.quantiles(values, n=100, method="inclusive")[q - 1]
        assert percentile(values, q) == pytest.approx(expected, rel=1e-9, abs=1e-6)

    def test_refuses_an_empty_sample_and_a_q_out_of_range(self) -> None:
        with pytest.raises(ValueError):
            percentile([], 50)
        with pytest.raises(ValueError):
            percentile([1.0], 101)

"""Is a difference between two runs beyond noise? (numpy only; used by ``ais_bench compare``.)

- **Mann–Whitney U** (two-sided, normal approximation with tie and continuity corrections): do the
  per-request values of run B tend to be larger or smaller than run A's? With ranks over both samples
  (ties get their average rank), ``U_b = R_b - n_b (n_b + 1) / 2``; under "no difference"
  ``U_b`` has mean ``n_a n_b / 2`` and variance
  ``n_a n_b / 12 · ((n + 1) - Σ (t³ - t) / (n (n - 1)))`` (t: the size of each group of tied values,
  n = n_a + n_b); ``z = (|U_b - mean| - 0.5) / sd`` and ``p = erfc(z / √2)``.
- **Percentile interval** of one run: the percentile bootstrap of ``confidence`` (1000 resamples from
  seed 0, up to 10,000 values), above that the order-statistic interval (ranks
  ``n q ± 1.96 sqrt(n q (1 - q))``), at least ``MIN_VALUES`` values.
- **Interval of a difference** ``b - a`` of two independent estimates that each have a 95 % interval:
  the "method of variance estimates recovery" (Zou and Donner, 2008): ``low = d - sqrt((b - b_low)² +
  (a_high - a)²)``, ``high = d + sqrt((b_high - b)² + (a - a_low)²)``; it keeps each interval's
  asymmetry and, unlike "the two intervals do not overlap", has a 95 % level. The difference is beyond
  noise when this interval excludes 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ais_bench.metrics.confidence import BOOTSTRAP_MAX_REQUESTS, bootstrap, order_statistic_bounds
from ais_bench.metrics.stage import Interval

#: Fewer values than this: no percentile interval (as for the steady stage's medians).
MIN_VALUES = 6
#: Two-sided level of every test and interval here.
ALPHA = 0.05


@dataclass(frozen=True, slots=True)
class MannWhitney:
    """Two-sided Mann–Whitney U test of sample b against sample a.

    ``u_b``: B's U statistic (the number of pairs where b's value is larger, ties counting 1/2);
    ``z``: its standardised distance from ``n_a n_b / 2`` after the continuity correction (>= 0);
    ``p_value``: two-sided, normal approximation; ``b_larger``: whether b's values tend to be larger
    (``u_b > n_a n_b / 2``).
    """

    u_b: float
    z: float
    p_value: float
    b_larger: bool
    n_a: int
    n_b: int

    @property
    def significant(self) -> bool:
        return self.p_value < ALPHA


def mann_whitney(a: np.ndarray, b: np.ndarray) -> MannWhitney | None:
    """The test of ``b`` against ``a`` (NaN values left out); None when a sample is empty."""
    a = _finite(a)
    b = _finite(b)
    n_a, n_b = a.shape[0], b.shape[0]
    if n_a == 0 or n_b == 0:
        return None
    ranks, tie_sizes = _average_ranks(np.concatenate([a, b]))
    u_b = float(ranks[n_a:].sum()) - n_b * (n_b + 1) / 2
    mean = n_a * n_b / 2
    n = n_a + n_b
    ties = float((tie_sizes**3 - tie_sizes).sum())
    variance = n_a * n_b / 12 * ((n + 1) - (ties / (n * (n - 1)) if n > 1 else 0.0))
    if variance <= 0:  # every value equal: nothing can differ
        return MannWhitney(u_b=u_b, z=0.0, p_value=1.0, b_larger=False, n_a=n_a, n_b=n_b)
    z = max(abs(u_b - mean) - 0.5, 0.0) / math.sqrt(variance)
    return MannWhitney(
        u_b=u_b, z=z, p_value=min(1.0, math.erfc(z / math.sqrt(2))), b_larger=u_b > mean, n_a=n_a, n_b=n_b
    )


def _average_ranks(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """1-based ranks of ``values`` (ties: their average rank) and the size of every group of equal values."""
    order = np.argsort(values, kind="mergesort")
    ordered = values[order]
    starts = np.flatnonzero(np.concatenate([[True], ordered[1:] != ordered[:-1]]))
    sizes = np.diff(np.append(starts, ordered.shape[0]))
    group_rank = starts + (sizes + 1) / 2  # average of the 1-based ranks starts+1 .. starts+size
    ranks = np.empty(values.shape[0], dtype=np.float64)
    ranks[order] = np.repeat(group_rank, sizes)
    return ranks, sizes.astype(np.float64)


def percentile_intervals(values: np.ndarray, qs: tuple[float, ...], unit: str = "") -> dict[float, Interval | None]:
    """95 % interval of each percentile ``q`` (0..100) of ``values`` (see the module doc), in the
    values' own unit; None for every q when there are fewer than ``MIN_VALUES`` values."""
    values = _finite(values)
    n = values.shape[0]
    if n < MIN_VALUES:
        return dict.fromkeys(qs)
    estimates = np.percentile(values, qs)
    if n <= BOOTSTRAP_MAX_REQUESTS:
        bounds = _bootstrap_percentiles(values, qs)
        method = "bootstrap"
    else:
        bounds = [order_statistic_bounds(values, q) for q in qs]
        method = "order statistics"
    return {
        q: Interval(estimate=float(est), low=min(lo, float(est)), high=max(hi, float(est)), unit=unit,
                    method=method, n=n)
        for q, est, (lo, hi) in zip(qs, estimates, bounds, strict=True)
    }


def _bootstrap_percentiles(values: np.ndarray, qs: tuple[float, ...]) -> list[tuple[float, float]]:
    """2.5th and 97.5th percentiles, over ``BOOTSTRAP_RESAMPLES`` seeded resamples, of each percentile q."""
    resampled = bootstrap(values, lambda resamples: np.percentile(resamples, qs, axis=1))  # (len(qs), resamples)
    low, high = np.percentile(resampled, [2.5, 97.5], axis=1)
    return [(float(lo), float(hi)) for lo, hi in zip(low, high, strict=True)]


def difference_interval(a: Interval, b: Interval) -> tuple[float, float]:
    """95 % interval of ``b.estimate - a.estimate`` from the two runs' intervals (module doc)."""
    d = b.estimate - a.estimate
    low = d - math.hypot(b.estimate - b.low, a.high - a.estimate)
    high = d + math.hypot(b.high - b.estimate, a.estimate - a.low)
    return low, high


def _finite(values: np.ndarray) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    finite: np.ndarray = array[np.isfinite(array)]
    return finite

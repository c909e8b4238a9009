"""95 % confidence intervals of the steady stage's rates and medians (numpy only).

- **Rates** (Request Throughput, Output Token Throughput): **batch means**. The window is cut into
  ``k = min(10, floor(D / median E2EL))`` equal batches, so that each batch lasts at least one median
  request (batches much shorter than a request share the same requests and would look falsely
  consistent); each batch's rate uses the same estimator as the window (every request weighted by the
  fraction of its time inside the batch), so the batch rates average to the window's rate exactly; the
  interval is ``mean ± t(0.975, k - 1) · sd / sqrt(k)`` (Student's t, so two batches give a very wide
  interval). Fewer than 2 batches: no interval. No randomness.
- **Medians** (TTFT, TPOT): percentile **bootstrap** over the window's requests, 1000 resamples from a
  fixed seed (0), so recalculating a run gives the same interval; above 10,000 requests, the
  order-statistic interval (the ranks ``n/2 ± 1.96 sqrt(n)/2`` of the sorted values), which is what the
  bootstrap converges to and costs one partition. Fewer than 6 requests: no interval (with 5 or fewer
  values even [min, max] holds the median with less than 95 % probability).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from itertools import pairwise

import numpy as np

from ais_bench.metrics.stage import Interval

MAX_BATCHES = 10
MIN_MEDIAN_REQUESTS = 6
BOOTSTRAP_RESAMPLES = 1000
BOOTSTRAP_SEED = 0
BOOTSTRAP_MAX_REQUESTS = 10_000
#: Student's t 0.975 quantiles by degrees of freedom (batches - 1).
_T_975 = {1: 12.7062, 2: 4.3027, 3: 3.1824, 4: 2.7764, 5: 2.5706, 6: 2.4469, 7: 2.3646, 8: 2.306, 9: 2.2622}
_Z_975 = 1.959964
#: Resampled values generated per step of the bootstrap (bounds its memory to ~32 MB).
_BOOTSTRAP_CHUNK_VALUES = 4_000_000


def batch_count(duration_s: float, median_e2el_s: float) -> int:
    """Number of batches of a window: each at least one median request long, at most ``MAX_BATCHES``."""
    if duration_s <= 0:
        return 0
    if median_e2el_s <= 0:
        return MAX_BATCHES
    return min(MAX_BATCHES, int(duration_s // median_e2el_s))


def fractions_inside(start_s: np.ndarray, end_s: np.ndarray, lo_s: float, hi_s: float) -> np.ndarray:
    """Per request, the share (0..1) of ``[start, end]`` that lies inside ``[lo_s, hi_s)``.

    A request of zero length counts 1 when it starts inside the interval, else 0.
    """
    start_s = np.asarray(start_s, dtype=np.float64)
    end_s = np.asarray(end_s, dtype=np.float64)
    overlap = np.clip(np.minimum(end_s, hi_s) - np.maximum(start_s, lo_s), 0.0, None)
    length = end_s - start_s
    instant = length <= 0
    share: np.ndarray = np.divide(overlap, length, out=np.zeros_like(overlap), where=~instant)
    share[instant] = ((start_s >= lo_s) & (start_s < hi_s))[instant]
    return share


def rate_intervals(
    start_s: np.ndarray,
    end_s: np.ndarray,
    weights: dict[str, tuple[np.ndarray, str]],
    window: tuple[float, float],
    batches: int,
) -> dict[str, Interval | None]:
    """Batch-means intervals of ``sum(w * fraction inside) / duration`` over ``window`` = (lo, hi),
    one per ``name -> (w, unit)`` of ``weights`` (every array indexed like ``start_s``)."""
    if batches < 2:
        return dict.fromkeys(weights)
    lo_s, hi_s = window
    start_s = np.asarray(start_s, dtype=np.float64)
    end_s = np.asarray(end_s, dtype=np.float64)
    touching = (end_s >= lo_s) & (start_s < hi_s)
    start_s, end_s = start_s[touching], end_s[touching]
    matrix = np.column_stack([np.asarray(w, dtype=np.float64)[touching] for w, _ in weights.values()])
    edges = lo_s + (hi_s - lo_s) * np.arange(batches + 1) / batches
    batch_s = (hi_s - lo_s) / batches
    rates = np.array([fractions_inside(start_s, end_s, a, b) @ matrix / batch_s for a, b in pairwise(edges)])
    estimates = fractions_inside(start_s, end_s, lo_s, hi_s) @ matrix / (hi_s - lo_s)
    halves = _T_975[batches - 1] * rates.std(axis=0, ddof=1) / math.sqrt(batches)
    return {
        name: Interval(
            estimate=float(estimate),
            low=max(float(estimate - half), 0.0),
            high=float(estimate + half),
            unit=unit,
            method="batch means",
            n=batches,
        )
        for (name, (_, unit)), estimate, half in zip(weights.items(), estimates, halves, strict=True)
    }


def median_interval(values_s: np.ndarray, *, max_bootstrap: int = BOOTSTRAP_MAX_REQUESTS) -> Interval | None:
    """Interval of the median of ``values_s`` (seconds), returned in ms (full precision)."""
    values = np.asarray(values_s, dtype=np.float64)
    values = values[np.isfinite(values)]
    n = values.shape[0]
    if n < MIN_MEDIAN_REQUESTS:
        return None
    if n <= max_bootstrap:
        low, high = _bootstrap_median(values)
        method = "bootstrap"
    else:
        low, high = order_statistic_bounds(values, 50)
        method = "order statistics"
    return Interval(
        estimate=_ms(float(np.median(values))), low=_ms(low), high=_ms(high), unit="ms", method=method, n=n
    )


def _bootstrap_median(values: np.ndarray) -> tuple[float, float]:
    """2.5th and 97.5th percentiles of the medians of ``BOOTSTRAP_RESAMPLES`` seeded resamples."""
    medians = bootstrap(values, lambda resamples: np.median(resamples, axis=1))
    low, high = np.percentile(medians, [2.5, 97.5])
    return float(low), float(high)


def bootstrap(values: np.ndarray, statistic: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """``statistic`` of ``BOOTSTRAP_RESAMPLES`` resamples (with replacement, from ``BOOTSTRAP_SEED``) of
    ``values``, joined along the last axis: ``statistic`` reduces axis 1 of a (resamples, n) array. The
    resamples are drawn ``_BOOTSTRAP_CHUNK_VALUES`` values at a time, which bounds the memory."""
    n = values.shape[0]
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    rows = max(1, _BOOTSTRAP_CHUNK_VALUES // n)
    found = []
    for done in range(0, BOOTSTRAP_RESAMPLES, rows):
        count = min(rows, BOOTSTRAP_RESAMPLES - done)
        found.append(statistic(values[rng.integers(0, n, size=(count, n))]))
    return np.concatenate(found, axis=-1)


def order_statistic_bounds(values: np.ndarray, q: float) -> tuple[float, float]:
    """95 % interval of percentile ``q`` (0..100): the sorted values at ranks ``n p ± 1.96 sqrt(n p (1 - p))``
    with p = q / 100 (0-based, clipped to the array); for the median ``n/2 ± 1.96 sqrt(n)/2``."""
    n = values.shape[0]
    p = q / 100
    centre = n * p
    spread = _Z_975 * math.sqrt(n * p * (1 - p))
    lo_rank = min(max(math.floor(centre - spread), 0), n - 1)
    hi_rank = min(max(math.ceil(centre + spread), 0), n - 1)
    part = np.partition(values, [lo_rank, hi_rank])
    return float(part[lo_rank]), float(part[hi_rank])


def _ms(value_s: float) -> float:
    return value_s * 1000


def wilson_interval(successes: int, trials: int) -> Interval | None:
    """Wilson score 95 % interval of a share ``successes / trials`` (0..1); None when ``trials == 0``.

    ``centre = (p + z²/2n) / (1 + z²/n)``, ``half = z / (1 + z²/n) · sqrt(p(1 - p)/n + z²/4n²)``: unlike
    ``p ± z·sqrt(p(1-p)/n)`` it stays inside [0, 1] and is not empty at p = 0 or 1 (a run where every
    request met the SLO is still a sample).
    """
    if trials <= 0:
        return None
    n = trials
    share = successes / n
    z2 = _Z_975 * _Z_975
    scale = 1 + z2 / n
    centre = (share + z2 / (2 * n)) / scale
    half = _Z_975 / scale * math.sqrt(share * (1 - share) / n + z2 / (4 * n * n))
    return Interval(
        estimate=share,
        low=min(max(centre - half, 0.0), share),  # min/max: rounding never leaves the share outside
        high=max(min(centre + half, 1.0), share),
        unit="",
        method="wilson",
        n=n,
    )

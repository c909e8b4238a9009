"""Statistics over per-request values (behaviour spec §5.2) and which names the stats list allows.

Allowed statistics: ``Average`` (arithmetic mean), ``Min``, ``Max``, ``Median`` (50th percentile) and
``Pk`` for any decimal k with 0 < k < 100 (``P99.9``, ``P5``; ``P05`` is the 5th percentile too), at most 8 of them
(``config/summarizers.py`` validates a stats list with these rules; the metrics take it as given).
Percentiles use ``numpy.percentile`` with its default linear interpolation.

Precision: statistics are kept at full precision, in their native unit (seconds for latencies). The
AISBench rounding (4 decimals in the native unit, then a latency x1000 and 4 decimals again: 0.1 ms)
is applied only when a table or the csv shows them (``ais_bench.reports.cells``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ais_bench.metrics.quantiles import percentiles as quantile_values

DEFAULT_STATS = ("Average", "Min", "Max", "Median", "P75", "P90", "P99")
MAX_STATS = 8
_NAMED_STATS = ("Average", "Min", "Max", "Median")
_PERCENTILE = re.compile(r"P(\d+(?:\.\d+)?)")


@dataclass(frozen=True, slots=True)
class MetricStats:
    """Statistics of one per-request metric in one stage, as values (writers only format them).

    ``values[i]`` belongs to ``stats[i]``, at full precision in the native unit: seconds for latencies
    (``unit`` ``"ms"``: shown in ms), token/s for throughputs (``"token/s"``), tokens for token counts
    (``""``); None when there is no data.
    ``n``: the number of values the statistics were computed over (requests; for TPOT the requests
    that have one; for ITL the gaps; for SlotWait the requests that used a slot).
    """

    name: str
    stage: str
    stats: tuple[str, ...]
    values: tuple[float | None, ...]
    unit: str
    n: int

    def value(self, stat: str) -> float | None:
        return self.values[self.stats.index(stat)]


def is_statistic(name: object) -> bool:
    """Whether ``name`` is an allowed statistic (the config loader keeps only those)."""
    return isinstance(name, str) and (name in _NAMED_STATS or _percentile_value(name) is not None)


def _percentile_value(name: str) -> float | None:
    """k of a ``Pk`` name when 0 < k < 100 (``P99.9`` -> 99.9), else None."""
    match = _PERCENTILE.fullmatch(name)
    if match is None:
        return None
    value = float(match.group(1))
    return value if 0 < value < 100 else None


def percentile_of(stat: str) -> float | None:
    """The percentile (0..100) a statistic stands for, or None for Average/Min/Max."""
    if stat == "Median":
        return 50.0
    return _percentile_value(stat)


def compute_stat_values(values: np.ndarray, stats: Sequence[str]) -> list[float | None]:
    """Each statistic of ``values`` in native units, full precision (None when empty)."""
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0:
        return [None] * len(stats)
    wanted = [q for q in (percentile_of(s) for s in stats) if q is not None]
    percentiles: dict[float, float] = {}
    if wanted:
        unique = sorted(set(wanted))
        percentiles = dict(zip(unique, quantile_values(values, unique), strict=True))
    result: list[float | None] = []
    for stat in stats:
        if stat == "Average":
            raw = float(np.mean(values))
        elif stat == "Min":
            raw = float(np.min(values))
        elif stat == "Max":
            raw = float(np.max(values))
        else:
            q = percentile_of(stat)
            assert q is not None, stat
            raw = percentiles[q]
        result.append(raw)
    return result


def compute_metric_stats(
    name: str, stage: str, values: np.ndarray, stats: Sequence[str], *, unit: str, n: int
) -> MetricStats:
    """Statistics of one metric; ``unit="ms"`` means ``values`` are seconds shown in ms."""
    native = compute_stat_values(values, stats)
    return MetricStats(name=name, stage=stage, stats=tuple(stats), values=tuple(native), unit=unit, n=n)

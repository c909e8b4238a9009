"""Client self-check: how long ready work waits in a worker's event loop.

Every ``interval_s`` the monitor schedules a callback with ``call_soon`` and measures how long it
takes to run and resume the monitor: the same path a socket read takes before its bytes are
stamped. Lags go into a fixed-size histogram (10 µs bins up to 1 s), so a 24-hour run costs the
same memory as a 10-second one. The main process merges the workers' histograms.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from time import perf_counter

import numpy as np

BIN_S = 10e-6
BINS = 100_000  # 10 µs x 100k = 1 s; larger lags land in the last bin
SAMPLE_INTERVAL_S = 0.01


class LagHistogram:
    """Counts of lags in ``BIN_S`` bins; ``percentile`` returns the upper edge of the bin (s)."""

    def __init__(self, counts: np.ndarray | None = None) -> None:
        self.counts = counts if counts is not None else np.zeros(BINS, dtype=np.int64)

    def add(self, lag_s: float) -> None:
        index = int(lag_s / BIN_S)
        self.counts[index if index < BINS else BINS - 1] += 1

    def merge(self, other: LagHistogram) -> None:
        self.counts += other.counts

    @property
    def total(self) -> int:
        return int(self.counts.sum())

    def percentile(self, q: float) -> float:
        total = self.total
        if total == 0:
            return 0.0
        rank = int(np.ceil(q / 100 * total))
        index = int(np.searchsorted(np.cumsum(self.counts), max(rank, 1)))
        return (index + 1) * BIN_S

    def max(self) -> float:
        nonzero = np.flatnonzero(self.counts)
        return float((nonzero[-1] + 1) * BIN_S) if len(nonzero) else 0.0

    def to_sparse(self) -> dict[int, int]:
        """Compact form to send between processes."""
        nonzero = np.flatnonzero(self.counts)
        return {int(i): int(self.counts[i]) for i in nonzero}

    @classmethod
    def from_sparse(cls, sparse: dict[int, int]) -> LagHistogram:
        hist = cls()
        for index, count in sparse.items():
            hist.counts[index] = count
        return hist


async def monitor_loop_lag(hist: LagHistogram, interval_s: float = SAMPLE_INTERVAL_S) -> None:
    """Sample the loop's ready-queue lag into ``hist`` until cancelled."""
    loop = asyncio.get_running_loop()
    while True:
        await asyncio.sleep(interval_s)
        waiter = loop.create_future()
        scheduled = perf_counter()
        loop.call_soon(waiter.set_result, None)
        await waiter
        hist.add(perf_counter() - scheduled)


@dataclass(frozen=True)
class LagSummary:
    """Percentiles of one lag measure, in seconds."""

    samples: int
    p50_s: float
    p99_s: float
    max_s: float

    @classmethod
    def of_histogram(cls, hist: LagHistogram) -> LagSummary:
        return cls(hist.total, hist.percentile(50), hist.percentile(99), hist.max())

    @classmethod
    def of_values(cls, values: np.ndarray) -> LagSummary:
        if len(values) == 0:
            return cls(0, 0.0, 0.0, 0.0)
        p50, p99 = np.percentile(values, [50, 99])
        return cls(len(values), float(p50), float(p99), float(values.max()))

    def as_ms_dict(self) -> dict[str, float | int]:
        return {
            "samples": self.samples,
            "p50_ms": round(self.p50_s * 1000, 4),
            "p99_ms": round(self.p99_s * 1000, 4),
            "max_ms": round(self.max_s * 1000, 4),
        }

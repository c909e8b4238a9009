"""A cumulative latency histogram, counted as observations arrive (the simulator's ``/metrics``)."""

from __future__ import annotations

import bisect

#: vLLM's TTFT histogram bounds (vllm/v1/metrics/loggers.py), seconds.
TTFT_BUCKETS_S = (
    0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0,
)


class LatencyHistogram:
    """Observations in seconds: ``count``, ``sum_s`` and the count per bucket of ``bounds_s``."""

    def __init__(self, bounds_s: tuple[float, ...] = TTFT_BUCKETS_S) -> None:
        self.bounds_s = bounds_s
        self._in_bucket = [0] * (len(bounds_s) + 1)  # the last one: above every bound
        self.count = 0
        self.sum_s = 0.0

    def observe(self, seconds: float) -> None:
        self._in_bucket[bisect.bisect_left(self.bounds_s, seconds)] += 1
        self.count += 1
        self.sum_s += seconds

    def cumulative(self) -> list[tuple[str, float]]:
        """(``le`` bound text, observations at or below it), ``+Inf`` last, as Prometheus lists them."""
        buckets: list[tuple[str, float]] = []
        running = 0
        for bound, count in zip(self.bounds_s, self._in_bucket, strict=False):
            running += count
            buckets.append((repr(bound), float(running)))
        buckets.append(("+Inf", float(self.count)))
        return buckets

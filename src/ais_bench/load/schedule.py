"""When to send: request-rate schedules with burstiness and ramp-up (no HTTP here).

A schedule is an array of send offsets in seconds from the first send (``offsets[0] == 0``).
Request ``k`` may not be sent before ``t0 + offsets[k]``; it may be later when every concurrency
slot is busy (that delay is the *schedule lag*).

Rules (behaviour spec §3, DESIGN.md decision 6):
- rate of request ``i``: fixed ``request_rate``; or with ramp-up ``linear`` ``start + (end-start)*p`` /
  ``exponential`` ``start*(end/start)**p`` (start <= 0 -> end), ``p = i / max(n-1, 1)``.
- gap after request ``i``: exactly ``1/rate`` when ``burstiness == 0``; otherwise a Gamma sample with
  shape ``burstiness`` and scale ``1/(rate*burstiness)`` (mean ``1/rate``; burstiness 1 = Poisson).
- without ramp-up the ``n`` gaps are rescaled so they add up to exactly ``n/request_rate``: the
  throughput is pinned, only the shape is random.
- a final rate below ``MIN_PACED_RATE`` means "no pacing": ``None`` (send as fast as slots allow).

Difference from AISBench: its producer shifts the whole schedule by the first gap; here the first
request is sent at offset 0 and gap ``i`` separates request ``i`` from request ``i+1``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

#: Below this rate (req/s) requests are not paced at all.
MIN_PACED_RATE = 0.001
#: Below this rate a warning says the run will be very slow.
LOW_RATE_WARNING = 0.1


@dataclass(frozen=True, slots=True)
class TrafficShape:
    """Arrival-process shape: the validated ``traffic_cfg`` of a model config.

    ``burstiness``: gamma shape of inter-arrival gaps (1 = Poisson; our default; 0 = evenly spaced);
    ``ramp_up_strategy``: "linear", "exponential" or None (no ramp); ``ramp_up_start_rps`` /
    ``ramp_up_end_rps``: rates in requests per second at the first and last send when ramping
    (None: not given, counts as 0).
    """

    burstiness: float = 1.0
    ramp_up_strategy: str | None = None
    ramp_up_start_rps: float | None = None
    ramp_up_end_rps: float | None = None


def request_rates(n: int, request_rate: float, shape: TrafficShape) -> np.ndarray:
    """Target rate (req/s) in force for each of ``n`` requests."""
    if not shape.ramp_up_strategy:
        return np.full(n, float(request_rate))
    progress = np.arange(n, dtype=np.float64) / max(n - 1, 1)
    start, end = float(shape.ramp_up_start_rps or 0.0), float(shape.ramp_up_end_rps or 0.0)
    if shape.ramp_up_strategy == "linear":
        return start + (end - start) * progress
    if shape.ramp_up_strategy == "exponential":
        if start <= 0:
            return np.full(n, end)
        return start * (end / start) ** progress
    raise ValueError(f"unknown ramp_up_strategy {shape.ramp_up_strategy!r}: expected linear or exponential")


def final_rate(request_rate: float, shape: TrafficShape) -> float:
    return float(shape.ramp_up_end_rps or 0.0) if shape.ramp_up_strategy else float(request_rate)


def build_send_offsets(
    n: int, request_rate: float, shape: TrafficShape, seed: int | None = None
) -> np.ndarray | None:
    """Send offsets (s, float64, length ``n``) or None when the load is not paced."""
    if n <= 0 or final_rate(request_rate, shape) < MIN_PACED_RATE:
        return None
    rates = request_rates(n, request_rate, shape)
    gaps = _draw_gaps(rates, shape.burstiness, np.random.default_rng(seed))
    if not shape.ramp_up_strategy:
        total = float(gaps.sum())
        if total > 0:
            gaps *= (n / float(request_rate)) / total
    offsets = np.zeros(n, dtype=np.float64)
    np.cumsum(gaps[:-1], out=offsets[1:])
    return offsets


def _draw_gaps(rates: np.ndarray, burstiness: float, rng: np.random.Generator) -> np.ndarray:
    safe_rates = np.where(rates < 1e-9, np.inf, rates)
    mean_gaps = 1.0 / safe_rates
    if burstiness == 0:
        return mean_gaps.astype(np.float64)
    return rng.gamma(shape=burstiness, scale=mean_gaps / burstiness).astype(np.float64)


def split_concurrency(batch_size: int, workers: int) -> list[int]:
    """Split ``batch_size`` slots over ``workers``: the first ``r`` get ``q+1``, the rest ``q``."""
    q, r = divmod(batch_size, workers)
    return [q + 1 if i < r else q for i in range(workers)]


#: Concurrency one automatically sized worker process is given.
CONCURRENCY_PER_PROCESS = 500


def choose_worker_count(batch_size: int, workers_num: int, cpu_count: int, debug: bool) -> int:
    """Number of worker processes: ``WORKERS_NUM`` if > 0 (at most the CPU count), else one per
    500 slots, at most 0.8 x CPUs; always at least 1 and never more than ``batch_size``."""
    if debug:
        return 1
    if workers_num > 0:
        count = min(workers_num, cpu_count)
    else:
        count = min(math.ceil(batch_size / CONCURRENCY_PER_PROCESS), int(0.8 * cpu_count))
    return max(1, min(count, batch_size))

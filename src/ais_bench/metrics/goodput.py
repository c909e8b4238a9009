"""Goodput under service-level objectives (SLOs), the vLLM ``--goodput`` semantics.

A bound is a per-request metric and a limit in ms: ``ttft`` (time to first token), ``tpot`` (time per
output token after the first) or ``e2el`` (end-to-end latency). A request is **good** when it succeeded
and its value is **at most** the limit for every bound (``value_s <= limit_ms / 1000``, as vLLM's
``slo >= value``). A request without a TPOT (one output token) meets a ``tpot`` bound: vLLM counts its
TPOT as 0.

Per stage, with D the stage duration that Request Throughput divides by:

- total stage: ``goodput = good / D`` (req/s); ``attainment = good / requests`` (failed requests
  count as not good);
- stable stage: ``goodput`` counts every good request of the run by the fraction of its time inside
  the window, as Request Throughput counts every successful one (so goodput <= Request Throughput);
  ``attainment`` is over the requests started in the window, as the stage's Total Requests.

``attainment_interval``: the Wilson 95 % interval of the share; ``goodput_interval`` (stable stage):
batch means, as Request Throughput's (``confidence``). ``misses``: per bound, the successful requests
of the stage whose value exceeded it (a request can miss several bounds).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ais_bench.errors import ConfigError
from ais_bench.metrics.confidence import batch_count, fractions_inside, rate_intervals, wilson_interval
from ais_bench.metrics.per_request import PerRequestMetrics, compute_per_request
from ais_bench.metrics.stable_stage import select_stable_stage
from ais_bench.metrics.stage import STAGES, Interval, StageSelection
from ais_bench.metrics.total_stage import select_total_stage
from ais_bench.records.record import RequestTable

#: The metrics a bound may name, in display order (vLLM's names).
SLO_METRICS = ("ttft", "tpot", "e2el")
#: Bounds that need a streamed response (a non-streamed one has no first-token time).
_STREAM_ONLY = ("ttft", "tpot")


@dataclass(frozen=True, slots=True)
class SloBound:
    """One service-level objective: ``metric`` (``ttft``, ``tpot``, ``e2el``) at most ``limit_ms``."""

    metric: str
    limit_ms: float

    def __post_init__(self) -> None:
        if self.metric not in SLO_METRICS:
            raise ValueError(f"SLO metric must be one of {SLO_METRICS}, got {self.metric!r}")
        if not 0 <= self.limit_ms < float("inf"):
            raise ValueError(f"SLO limit must be a finite number of ms >= 0, got {self.limit_ms!r}")

    def __str__(self) -> str:
        return f"{self.metric}:{self.limit_ms:g}"


@dataclass(frozen=True, slots=True)
class BoundMisses:
    """``missed``: successful requests of the stage whose ``metric`` exceeded ``limit_ms``."""

    metric: str
    limit_ms: float
    missed: int


@dataclass(frozen=True, slots=True)
class Goodput:
    """Goodput of one stage (see the module docstring for the formulas).

    ``requests``: requests of the stage, successful and failed (the stage's Total Requests);
    ``good_requests`` of them met every bound; ``failed_requests`` failed (never good).
    ``goodput``: req/s over ``duration_s`` (the stage's D); ``attainment``: ``good / requests`` (0..1,
    0 when the stage has no request).
    """

    stage: str
    bounds: tuple[SloBound, ...]
    requests: int
    good_requests: int
    failed_requests: int
    duration_s: float
    goodput: float
    attainment: float
    misses: tuple[BoundMisses, ...]
    attainment_interval: Interval | None = None
    goodput_interval: Interval | None = None

    @property
    def most_missed(self) -> BoundMisses | None:
        """The bound most requests missed (the first of equals), None when none was missed."""
        worst = max(self.misses, key=lambda m: m.missed, default=None)
        return worst if worst is not None and worst.missed > 0 else None


def slo_stream_problem(bounds: Sequence[SloBound], stream: bool) -> str | None:
    """Why ``bounds`` cannot be judged on a run with ``stream`` off, None when they can."""
    if stream:
        return None
    named = [b.metric for b in bounds if b.metric in _STREAM_ONLY]
    if not named:
        return None
    return f"an SLO on {' and '.join(named)} needs streamed responses (a non-streamed one has no first token)"


def check_slo_stream(bounds: Sequence[SloBound], stream: bool) -> None:
    """Raise ``ConfigError`` when a bound needs streaming and the run is not streamed."""
    problem = slo_stream_problem(bounds, stream)
    if problem is not None:
        raise ConfigError(problem, hint="bound only e2el, or run a streaming model (stream=True)")


def _metric_values_s(requests: PerRequestMetrics, metric: str) -> np.ndarray:
    values: dict[str, np.ndarray] = {"ttft": requests.ttft_s, "tpot": requests.tpot_s, "e2el": requests.e2el_s}
    return values[metric]


def bound_met(requests: PerRequestMetrics, bound: SloBound) -> np.ndarray:
    """Per successful request (bool): its value is at most the bound (a request without a TPOT meets
    a ``tpot`` bound, its ``tpot_s`` is 0)."""
    return np.asarray(_metric_values_s(requests, bound.metric) <= bound.limit_ms / 1000, dtype=bool)


def good_requests(requests: PerRequestMetrics, bounds: Sequence[SloBound]) -> np.ndarray:
    """Per successful request (bool): it met every bound (all True without bounds)."""
    good = np.ones(len(requests), dtype=bool)
    for bound in bounds:
        good &= bound_met(requests, bound)
    return good


def stage_goodput(selection: StageSelection, requests: PerRequestMetrics, bounds: Sequence[SloBound]) -> Goodput:
    """Goodput of a selected stage; ``requests``: every successful request of the run (the stable
    stage's rate counts each by its time inside the window)."""
    bounds = tuple(bounds)
    stage_requests = selection.requests
    good = int(np.count_nonzero(good_requests(stage_requests, bounds)))
    misses = tuple(
        BoundMisses(b.metric, b.limit_ms, int(np.count_nonzero(~bound_met(stage_requests, b)))) for b in bounds
    )
    duration_s = selection.duration_s
    window = selection.window
    goodput_interval = None
    if window is None:
        goodput = good / duration_s if duration_s > 0 else 0.0
    else:
        good_weights = good_requests(requests, bounds).astype(np.float64)
        fractions = fractions_inside(requests.start_s, requests.end_s, window.start_s, window.end_s)
        goodput = float(fractions @ good_weights) / duration_s if duration_s > 0 else 0.0
        goodput_interval = _window_goodput_interval(requests, good_weights, (window.start_s, window.end_s))
    total = selection.total_requests
    return Goodput(
        stage=selection.name,
        bounds=bounds,
        requests=total,
        good_requests=good,
        failed_requests=selection.failed_requests,
        duration_s=duration_s,
        goodput=goodput,
        attainment=good / total if total else 0.0,
        misses=misses,
        attainment_interval=wilson_interval(good, total),
        goodput_interval=goodput_interval,
    )


def _window_goodput_interval(
    requests: PerRequestMetrics, good_weights: np.ndarray, window: tuple[float, float]
) -> Interval | None:
    """Batch-means interval of the window's goodput, cut into the batches Request Throughput's uses."""
    lo_s, hi_s = window
    steady = (requests.start_s >= lo_s) & (requests.start_s < hi_s)
    median_source = requests.e2el_s[steady] if steady.any() else requests.e2el_s
    batches = batch_count(hi_s - lo_s, float(np.median(median_source)))
    weights = {"Goodput": (good_weights, "req/s")}
    return rate_intervals(requests.start_s, requests.end_s, weights, window, batches)["Goodput"]


def compute_goodput(
    table: RequestTable, bounds: Sequence[SloBound], *, stage: str = "total", batch_size: int = 1, stream: bool = True
) -> Goodput:
    """Goodput of ``table`` under ``bounds`` for ``stage`` ("total", or "stable" with ``batch_size``).

    The function for callers that have a run's table (sweeps, SLO search); ``compute_summary(...,
    slo=bounds)`` computes the same alongside the other metrics. Raises ``ConfigError`` when a bound
    needs streaming and ``stream`` is off, ``NoSteadyStage`` as the stable stage does.
    """
    if stage not in STAGES:
        raise ValueError(f"stage must be one of {STAGES}, got {stage!r}")
    check_slo_stream(bounds, stream)
    requests = compute_per_request(table, stream)
    if stage == "stable":
        selection = select_stable_stage(table, requests, batch_size)
    else:
        selection = select_total_stage(table, requests)
    return stage_goodput(selection, requests, bounds)

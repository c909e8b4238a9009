"""Result types of stage selection (``total`` and ``stable``)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ais_bench.metrics.per_request import PerRequestMetrics

STAGES = ("total", "stable")


@dataclass(frozen=True, slots=True)
class Interval:
    """A 95 % confidence interval of one steady-stage number, in ``unit`` (``low <= estimate <= high``).

    ``method``: ``batch means`` (rates) or ``bootstrap`` / ``order statistics`` (medians), see
    docs/metrics.md; ``n``: the batches or requests it was computed from.
    """

    estimate: float
    low: float
    high: float
    unit: str
    method: str
    n: int


@dataclass(frozen=True, slots=True)
class StableWindow:
    """Facts about the steady window ``[t2, t4)`` (perf_counter seconds unless ``*_rel_s``).

    ``start_s`` = t2, ``end_s`` = t4 (absolute); ``start_rel_s`` / ``end_rel_s`` are relative to the
    first send of the run (min start over all rows). ``run_duration_s`` = last end - first send over
    all rows; ``share`` = ``duration_s / run_duration_s`` (0..1). ``requests`` = requests started in
    the window (``success_requests`` + ``failed_requests``). ``max_e2el_s``: largest E2EL of a
    successful request in the window; ``reliable`` is False when it exceeds ``duration_s / 3``.

    ``work_requests``: successful requests counted by the fraction of their time inside the window
    (what Request Throughput divides by D). ``mean_in_flight`` / ``peak_in_flight`` /
    ``at_batch_size_share`` / ``longest_below_batch_size_s``: see ``in_flight.Steadiness``.
    ``simultaneous_s``: events closer than this were treated as simultaneous when finding the window;
    ``min_duration_s``: the shortest window accepted as a steady stage. ``confidence``: 95 % intervals by
    metric name (None where too few batches or requests); ``warnings``: doubts about the window, shown
    first on screen.
    """

    start_s: float
    end_s: float
    start_rel_s: float
    end_rel_s: float
    duration_s: float
    run_duration_s: float
    share: float
    requests: int
    success_requests: int
    failed_requests: int
    max_e2el_s: float
    batch_size: int
    work_requests: float = 0.0
    mean_in_flight: float = 0.0
    peak_in_flight: int = 0
    at_batch_size_share: float = 0.0
    longest_below_batch_size_s: float = 0.0
    simultaneous_s: float = 0.0
    min_duration_s: float = 0.0
    confidence: dict[str, Interval | None] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    @property
    def reliable(self) -> bool:
        return self.max_e2el_s <= self.duration_s / 3


@dataclass(frozen=True, slots=True)
class StageWork:
    """What a stage's rates divide by its duration D.

    ``requests`` / ``input_tokens`` / ``output_tokens``: successful requests and their tokens (total
    stage: whole counts; stable stage: each request weighted by the fraction of its time inside the
    window). ``busy_s``: request-seconds in the stage (Concurrency = ``busy_s / D``).
    ``peak_in_flight``: the observed peak (stable stage), None where Max Concurrency is ``batch_size``.
    """

    requests: float
    input_tokens: float
    output_tokens: float
    busy_s: float
    peak_in_flight: int | None = None


@dataclass(frozen=True, slots=True)
class StageSelection:
    """The requests of one stage and its duration.

    ``requests``: per-request values of the successful requests in the stage.
    ``total_requests``: successful + failed requests in the stage.
    ``duration_s``: the stage duration D used by every throughput; ``work``: what the rates count.
    """

    name: str
    requests: PerRequestMetrics
    total_requests: int
    duration_s: float
    work: StageWork
    window: StableWindow | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def success_requests(self) -> int:
        return len(self.requests)

    @property
    def failed_requests(self) -> int:
        return self.total_requests - self.success_requests


def run_span_s(start_s: np.ndarray, end_s: np.ndarray, requests: PerRequestMetrics) -> tuple[float, float]:
    """(first send, last end) over all rows, NaN-aware; the successful rows' time points included."""
    starts = np.concatenate([np.asarray(start_s, dtype=np.float64), requests.start_s])
    ends = np.concatenate([np.asarray(end_s, dtype=np.float64), requests.end_s])
    first = float(np.nanmin(starts)) if np.isfinite(starts).any() else float("nan")
    last = float(np.nanmax(ends)) if np.isfinite(ends).any() else float("nan")
    return first, last

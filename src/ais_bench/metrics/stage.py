"""Result types of stage selection (``total`` and ``stable``)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ais_bench.metrics.per_request import PerRequestMetrics

STAGES = ("total", "stable")


@dataclass(frozen=True, slots=True)
class StableWindow:
    """Facts about the steady window (perf_counter seconds unless ``*_rel_s``).

    ``start_s`` = t2, ``end_s`` = t4 (absolute); ``start_rel_s`` / ``end_rel_s`` are relative to the
    first send of the run (min start over all rows). ``run_duration_s`` = last end - first send over
    all rows; ``share`` = ``duration_s / run_duration_s`` (0..1). ``requests`` = requests started in
    the window (``success_requests`` + ``failed_requests``). ``max_e2el_s``: largest E2EL of a
    successful request in the window; ``reliable`` is False when it exceeds ``duration_s / 3``.
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

    @property
    def reliable(self) -> bool:
        return self.max_e2el_s <= self.duration_s / 3


@dataclass(frozen=True, slots=True)
class StageSelection:
    """The requests of one stage and its duration.

    ``requests``: per-request values of the successful requests in the stage.
    ``total_requests``: successful + failed requests in the stage.
    ``duration_s``: the stage duration D used by every throughput.
    """

    name: str
    requests: PerRequestMetrics
    total_requests: int
    duration_s: float
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

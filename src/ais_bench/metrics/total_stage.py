"""The ``total`` stage (behaviour spec §6.5): every request of the run."""

from __future__ import annotations

from ais_bench.metrics.per_request import PerRequestMetrics
from ais_bench.metrics.stage import StageSelection, StageWork
from ais_bench.records.record import RequestTable


def select_total_stage(table: RequestTable, requests: PerRequestMetrics) -> StageSelection:
    """All rows; D = max(end) - min(start) over successful requests; Total Requests includes failed.

    ``requests`` are the per-request values of ``table`` (``compute_per_request``). The rates count
    every successful request whole; Concurrency = sum(E2EL) / D.
    """
    duration_s = float(requests.end_s.max() - requests.start_s.min()) if len(requests) else 0.0
    work = StageWork(
        requests=float(len(requests)),
        input_tokens=float(requests.input_tokens.sum()),
        output_tokens=float(requests.output_tokens.sum()),
        busy_s=float(requests.e2el_s.sum()),
    )
    return StageSelection(
        name="total", requests=requests, total_requests=len(table), duration_s=duration_s, work=work
    )

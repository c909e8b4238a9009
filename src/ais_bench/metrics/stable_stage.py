"""The ``stable`` stage (behaviour spec §6.1-§6.3, DESIGN.md decision 3).

In-flight count: two events per successful request, built as (req0 start, req0 end, req1 start, ...)
in table row order, then stably sorted by time (ties resolve by request position, a request's start
before its own end); the count after applying each event is the concurrency at that moment.

- t2 = time of the **second** start event after which the count equals ``batch_size`` exactly;
- t4 = time of the **last** event (start or end) after which the count equals ``batch_size``;
- steady requests = successful requests with ``t2 <= start <= t4``; D = t4 - t2.

Beyond the original: failed requests with a send time in ``[t2, t4]`` count in the window's Total and
Failed Requests (they still do not enter the in-flight count); a zero-length window (t2 == t4) is
treated as no steady stage; the error says why and what to change; a warning is added when the
largest E2EL in the window exceeds D / 3.
"""

from __future__ import annotations

import numpy as np

from ais_bench.errors import NoSteadyStage
from ais_bench.metrics.per_request import PerRequestMetrics
from ais_bench.metrics.stage import StableWindow, StageSelection, run_span_s
from ais_bench.records.record import RequestTable

_HINT_MORE = (
    "send several times batch_size requests (num_prompts), or use --pressure so every slot stays busy"
)
_SEE = "; see docs/troubleshooting.md#the-steady-stage"


def find_stable_window(start_s: np.ndarray, end_s: np.ndarray, batch_size: int) -> tuple[float, float]:
    """(t2, t4) of the successful requests' start/end times; raises ``NoSteadyStage`` with the reason."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    count = int(np.asarray(start_s).shape[0])
    times = np.empty(2 * count, dtype=np.float64)
    times[0::2] = start_s
    times[1::2] = end_s
    delta = np.empty(2 * count, dtype=np.int64)
    delta[0::2] = 1
    delta[1::2] = -1
    order = np.argsort(times, kind="stable")
    sorted_times = times[order]
    sorted_delta = delta[order]
    in_flight = np.cumsum(sorted_delta)
    hits = in_flight == batch_size
    start_hits = np.flatnonzero(hits & (sorted_delta == 1))
    peak = int(in_flight.max()) if in_flight.size else 0
    if peak < batch_size:
        raise NoSteadyStage(
            f"Can not find a stable stage: at most {peak} requests were in flight at once, "
            f"never batch_size={batch_size}",
            hint=f"{_HINT_MORE}, or lower batch_size to the concurrency the client reached{_SEE}",
        )
    if start_hits.shape[0] < 2:
        raise NoSteadyStage(
            f"Can not find a stable stage: in-flight requests reached batch_size={batch_size} on only "
            "one request start (the first is treated as warm-up, a second one is needed)",
            hint=f"{_HINT_MORE}, or lower batch_size{_SEE}",
        )
    t2 = float(sorted_times[start_hits[1]])
    t4 = float(sorted_times[np.flatnonzero(hits)[-1]])
    if not t4 > t2:
        raise NoSteadyStage(
            f"Can not find a stable stage: the window where batch_size={batch_size} requests were in "
            f"flight has zero length (t2 = t4 = {t2:.6f} s)",
            hint=f"{_HINT_MORE}, or lower batch_size{_SEE}",
        )
    return t2, t4


def select_stable_stage(table: RequestTable, requests: PerRequestMetrics, batch_size: int) -> StageSelection:
    """The steady stage of ``table``; ``requests`` are its per-request values (all successful rows)."""
    t2, t4 = find_stable_window(requests.start_s, requests.end_s, batch_size)
    steady = requests.select((requests.start_s >= t2) & (requests.start_s <= t4))

    failed = np.ones(len(table), dtype=bool)
    failed[requests.row_index] = False
    failed_start_s = np.asarray(table.start_s, dtype=np.float64)[failed]
    failed_in_window = int(np.count_nonzero((failed_start_s >= t2) & (failed_start_s <= t4)))

    duration_s = t4 - t2
    first_send_s, last_end_s = run_span_s(table.start_s, table.end_s, requests)
    run_duration_s = last_end_s - first_send_s
    max_e2el_s = float(steady.e2el_s.max()) if len(steady) else 0.0
    window = StableWindow(
        start_s=t2,
        end_s=t4,
        start_rel_s=t2 - first_send_s,
        end_rel_s=t4 - first_send_s,
        duration_s=duration_s,
        run_duration_s=run_duration_s,
        share=duration_s / run_duration_s if run_duration_s > 0 else 0.0,
        requests=len(steady) + failed_in_window,
        success_requests=len(steady),
        failed_requests=failed_in_window,
        max_e2el_s=max_e2el_s,
        batch_size=batch_size,
    )
    warnings = []
    if not window.reliable:
        warnings.append(
            f"Steady window: the longest request in it took {max_e2el_s * 1000:.1f} ms, more than a third "
            f"of the window ({duration_s * 1000:.1f} ms); throughput may be off, run longer "
            "(more requests or a longer --pressure-time)"
        )
    return StageSelection(
        name="stable",
        requests=steady,
        total_requests=window.requests,
        duration_s=duration_s,
        window=window,
        warnings=warnings,
    )

"""The ``stable`` stage (behaviour spec §6.1-§6.3, DESIGN.md decision 3).

In-flight count: +1 at every successful request's send ``tp[0]``, -1 at its last event ``tp[-1]``.
Events closer together than ``simultaneous_s`` (2 % of the median E2EL) are one **moment**: they are
grouped greedily in time order (a moment holds the events within ``simultaneous_s`` of its first
event) and netted, so lanes that finish and refill in lockstep give the same count whatever the order
in which their ends and starts were stamped. After each moment the count is "the concurrency then".

- t2 = the time of the **second** moment holding a start after which the count equals ``batch_size``
  (the first one is the ramp-up);
- t4 = the time of the first moment after the **last** moment at ``batch_size``: the moment the count
  left ``batch_size`` for good (the original takes the last moment it *reached* it, which cuts the final
  stretch at ``batch_size`` off and, with lanes in lockstep, leaves a window of a few microseconds);
- the window is ``[t2, t4)``; steady requests = successful requests with ``t2 <= start < t4`` (their
  latencies make the statistics); D = t4 - t2.

Rates: each successful request of the run counts by the fraction of its time (send to last event)
inside the window, so work that runs past either edge is not credited to the window (unbiased for
short windows, see docs/metrics.md). Concurrency = request-seconds inside the window / D.

Beyond the original: failed requests with a send time in the window count in its Total and Failed
Requests (they do not enter the in-flight count); a window shorter than half the median E2EL is no
steady stage (``AIS-NO-STEADY-STAGE``: it holds less than half a request per lane, so it cannot show
a rate); warnings when the window is short or not kept at ``batch_size`` (``window_warnings``).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ais_bench.errors import NoSteadyStage
from ais_bench.metrics.confidence import batch_count, fractions_inside, median_interval, rate_intervals
from ais_bench.metrics.in_flight import Events, Steadiness, build_in_flight, compute_steadiness
from ais_bench.metrics.per_request import PerRequestMetrics
from ais_bench.metrics.stage import Interval, StableWindow, StageSelection, StageWork, run_span_s
from ais_bench.records.record import RequestTable

#: Events closer than this share of the median E2EL are simultaneous (one moment).
SIMULTANEOUS_SHARE = 0.02
#: A window shorter than this share of the median E2EL is not a steady stage.
MIN_WINDOW_SHARE = 0.5
#: Warn when batch_size requests were in flight less than this share of the window.
AT_BATCH_SIZE_WARN_SHARE = 0.9
#: Warn when the window is shorter than this share of the run.
SHORT_WINDOW_SHARE = 0.1

_HINT_MORE = (
    "send several times batch_size requests (num_prompts), or use --pressure so every slot stays busy"
)
_SEE = "; see docs/troubleshooting.md#the-steady-stage"


def find_stable_window(
    start_s: np.ndarray,
    end_s: np.ndarray,
    batch_size: int,
    *,
    simultaneous_s: float | None = None,
    events: Events | None = None,
) -> tuple[float, float]:
    """(t2, t4) of the successful requests' start/end times; raises ``NoSteadyStage`` with the reason.

    ``simultaneous_s`` defaults to ``SIMULTANEOUS_SHARE`` of the median E2EL; ``events``: the same
    requests' ``Events`` when the caller has them already (they are sorted once).
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    start_s = np.asarray(start_s, dtype=np.float64)
    end_s = np.asarray(end_s, dtype=np.float64)
    median_e2el_s = float(np.median(end_s - start_s)) if start_s.shape[0] else 0.0
    if simultaneous_s is None:
        simultaneous_s = SIMULTANEOUS_SHARE * median_e2el_s
    moment_s, count, has_start = _moments(events or Events.of(start_s, end_s), simultaneous_s)
    at_batch = count == batch_size
    start_hits = np.flatnonzero(at_batch & has_start)
    peak = int(count.max()) if count.size else 0
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
    t2 = float(moment_s[start_hits[1]])
    t4 = float(moment_s[np.flatnonzero(at_batch)[-1] + 1])  # the count ends at 0, so a next moment exists
    min_duration_s = MIN_WINDOW_SHARE * median_e2el_s
    if not t4 - t2 >= min_duration_s:
        raise NoSteadyStage(
            f"Can not find a stable stage: the window where batch_size={batch_size} requests were in flight "
            f"is {(t4 - t2) * 1000:.3f} ms long, shorter than half the median request "
            f"({median_e2el_s * 1000:.1f} ms), too short to show a rate",
            hint=f"{_HINT_MORE}, or lower batch_size{_SEE}",
        )
    return t2, t4


def _moments(events: Events, simultaneous_s: float) -> tuple[np.ndarray, ...]:
    """(time of each moment's first event, in-flight count after it, whether it holds a start)."""
    times, delta = events.times, events.delta
    if times.shape[0] == 0:
        return times, delta, delta.astype(bool)
    firsts = _moment_firsts(times, simultaneous_s)
    count = np.cumsum(np.add.reduceat(delta, firsts))
    has_start = np.maximum.reduceat(delta, firsts) == 1
    return times[firsts], count, has_start


def _moment_firsts(times: np.ndarray, simultaneous_s: float) -> np.ndarray:
    """Index of the first event of each moment: a moment takes every event within ``simultaneous_s``
    of its first one (greedy, in time order; equal times always share a moment)."""
    next_after = np.searchsorted(times, times + simultaneous_s, side="right").tolist()
    firsts = []
    index, total = 0, times.shape[0]
    while index < total:
        firsts.append(index)
        index = next_after[index]
    return np.asarray(firsts, dtype=np.intp)


def select_stable_stage(table: RequestTable, requests: PerRequestMetrics, batch_size: int) -> StageSelection:
    """The steady stage of ``table``; ``requests`` are its per-request values (all successful rows)."""
    events = Events.of(requests.start_s, requests.end_s)
    t2, t4 = find_stable_window(requests.start_s, requests.end_s, batch_size, events=events)
    steady = requests.select((requests.start_s >= t2) & (requests.start_s < t4))

    failed = np.ones(len(table), dtype=bool)
    failed[requests.row_index] = False
    failed_start_s = np.asarray(table.start_s, dtype=np.float64)[failed]
    failed_in_window = int(np.count_nonzero((failed_start_s >= t2) & (failed_start_s < t4)))

    duration_s = t4 - t2
    median_e2el_s = float(np.median(requests.e2el_s))
    first_send_s, last_end_s = run_span_s(table.start_s, table.end_s, requests)
    run_duration_s = last_end_s - first_send_s
    fractions = fractions_inside(requests.start_s, requests.end_s, t2, t4)
    overlap_s = fractions * requests.e2el_s
    steadiness = compute_steadiness(build_in_flight(events), t2, t4, batch_size)
    work = StageWork(
        requests=float(fractions.sum()),
        input_tokens=float(np.dot(fractions, requests.input_tokens)),
        output_tokens=float(np.dot(fractions, requests.output_tokens)),
        busy_s=float(overlap_s.sum()),
        peak_in_flight=steadiness.peak_in_flight,
    )
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
        max_e2el_s=float(steady.e2el_s.max()) if len(steady) else 0.0,
        batch_size=batch_size,
        work_requests=work.requests,
        mean_in_flight=steadiness.mean_in_flight,
        peak_in_flight=steadiness.peak_in_flight,
        at_batch_size_share=steadiness.at_batch_size_share,
        longest_below_batch_size_s=steadiness.longest_below_batch_size_s,
        simultaneous_s=SIMULTANEOUS_SHARE * median_e2el_s,
        min_duration_s=MIN_WINDOW_SHARE * median_e2el_s,
        confidence=window_confidence(requests, steady, (t2, t4)),
    )
    warnings = window_warnings(window, steadiness)
    window = replace(window, warnings=tuple(warnings))
    return StageSelection(
        name="stable",
        requests=steady,
        total_requests=window.requests,
        duration_s=duration_s,
        work=work,
        window=window,
        warnings=list(warnings),
    )


def window_confidence(
    requests: PerRequestMetrics, steady: PerRequestMetrics, window: tuple[float, float]
) -> dict[str, Interval | None]:
    """95 % intervals (``confidence`` module): the rates over every successful request of the run,
    the medians over the requests started in the window (TPOT: those with more than one output token)."""
    lo_s, hi_s = window
    median_e2el_s = float(np.median(steady.e2el_s)) if len(steady) else float(np.median(requests.e2el_s))
    batches = batch_count(hi_s - lo_s, median_e2el_s)
    weights = {
        "Request Throughput": (np.ones(len(requests)), "req/s"),
        "Output Token Throughput": (requests.output_tokens, "token/s"),
    }
    intervals = rate_intervals(requests.start_s, requests.end_s, weights, window, batches)
    if steady.stream:
        intervals["TTFT Median"] = median_interval(steady.ttft_s)
        intervals["TPOT Median"] = median_interval(steady.tpot_s[steady.output_tokens > 1])
    return intervals


def window_warnings(window: StableWindow, steadiness: Steadiness) -> list[str]:
    """Doubts about the window: too short to trust, or not kept at ``batch_size``."""
    bs = window.batch_size
    short = []
    if window.requests < 2 * bs:
        short.append(f"only {window.requests} requests started in it (fewer than 2 x batch_size = {2 * bs})")
    if window.share < SHORT_WINDOW_SHARE:
        short.append(f"it is {window.share:.1%} of the run (under {SHORT_WINDOW_SHARE:.0%})")
    if not window.reliable:
        short.append(f"its longest request took {window.max_e2el_s * 1000:.1f} ms, more than a third of it")
    warnings = []
    if short:
        warnings.append(
            f"Steady window is short ({window.duration_s * 1000:.1f} ms): {'; '.join(short)}; its numbers are "
            "uncertain (the 95% intervals say how much, when there is data enough for one), run longer (more requests or a longer --pressure-time)"
        )
    if steadiness.at_batch_size_share < AT_BATCH_SIZE_WARN_SHARE:
        warnings.append(
            f"Steady window: batch_size={bs} requests were in flight only {steadiness.at_batch_size_share:.0%} "
            f"of its time (mean {steadiness.mean_in_flight:.2f} in flight, longest stretch below "
            f"{steadiness.longest_below_batch_size_s * 1000:.1f} ms), so its rates are not the server's rates at "
            "this concurrency; use --pressure or a higher request_rate to keep every slot busy"
        )
    return warnings

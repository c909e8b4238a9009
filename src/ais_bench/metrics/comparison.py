"""Run B against run A, metric by metric, with a verdict on noise (``ais_bench compare``; numpy only).

A run's stage (total or stable, as its summary computes it) gives a ``StageSample``: the per-request
latencies of the stage's successful requests and its throughputs with their 95 % intervals. Two
samples give one ``ComparisonRow`` per statistic:

| row | values | beyond noise when |
| --- | --- | --- |
| ``<metric>.mean`` (TTFT, TPOT, ITL, E2EL) | mean of the per-request values, ms | Mann–Whitney p < 0.05 |
| ``<metric>.p50`` / ``.p90`` / ``.p99`` | linear percentile, ms | the 95 % interval of B - A (bootstrap or order-statistic intervals of each run, combined) excludes 0 |
| ``request_throughput``, ``output_token_throughput`` | the stage's rate | the same, from the batch-means intervals of each run |
| ``goodput`` (with SLO bounds) | good requests per second (``metrics.goodput``) | the same, from batch means |
| ``slo_attainment`` (with SLO bounds) | share of the stage's requests that were good (0..1) | the same, from Wilson intervals (Newcombe's interval of a difference of proportions) |

Verdict: ``faster`` (lower latency or higher throughput beyond noise), ``slower``, ``no significant
change``, or ``not tested`` (too few values, or a window too short for batch means).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from ais_bench.errors import AllRequestsFailed
from ais_bench.metrics.common import compute_common_metrics
from ais_bench.metrics.confidence import batch_count, rate_intervals
from ais_bench.metrics.goodput import SloBound, check_slo_stream, good_requests, stage_goodput
from ais_bench.metrics.per_request import PerRequestMetrics, compute_per_request
from ais_bench.metrics.significance import difference_interval, mann_whitney, percentile_intervals
from ais_bench.metrics.stable_stage import select_stable_stage
from ais_bench.metrics.stage import Interval, StageSelection
from ais_bench.metrics.total_stage import select_total_stage
from ais_bench.records.record import RequestTable

FASTER = "faster"
SLOWER = "slower"
NO_CHANGE = "no significant change"
NOT_TESTED = "not tested"

#: Latency metrics compared, in display order, and their statistics (percentiles as numbers).
LATENCY_METRICS = ("ttft", "tpot", "itl", "e2el")
PERCENTILES = {"p50": 50.0, "p90": 90.0, "p99": 99.0}
LATENCY_STATS = ("mean", *PERCENTILES)
#: Throughputs compared: row key -> (common metric name, unit).
THROUGHPUTS = {
    "request_throughput": ("Request Throughput", "req/s"),
    "output_token_throughput": ("Output Token Throughput", "tokens/s"),
}
#: Rows of goodput under SLO bounds (only when bounds are given): row key -> unit.
GOODPUT_ROWS = {"goodput": "req/s", "slo_attainment": "share"}


@dataclass(frozen=True)
class Rate:
    """A stage's rate and its 95 % interval (None when the stage is too short for batch means)."""

    value: float
    interval: Interval | None


@dataclass(frozen=True)
class StageSample:
    """What a comparison needs of one run's stage.

    ``latencies_s``: per-request values in seconds by metric (``ttft`` only when streamed, ``tpot``
    of the requests that have one, ``itl`` the pooled gaps); ``rates``: by ``THROUGHPUTS`` key, plus
    ``GOODPUT_ROWS`` under the SLO bounds ``slo`` when there are any.
    """

    stage: str
    latencies_s: dict[str, np.ndarray]
    rates: dict[str, Rate]
    slo: tuple[SloBound, ...] = ()


@dataclass(frozen=True)
class ComparisonRow:
    """One statistic of run B against run A.

    ``key``: ``ttft.p99``, ``e2el.mean``, ``request_throughput``, ...; ``a`` / ``b`` in ``unit``;
    ``change_pct``: ``(b - a) / a * 100`` (None when a is 0); ``test``: ``mann-whitney``,
    ``bootstrap``, ``order statistics``, ``batch means`` or ``wilson``; ``p_value`` (Mann–Whitney rows) or
    ``difference`` (low, high: the 95 % interval of ``b - a``, other rows);
    ``n_a`` / ``n_b``: the values each side was computed from (requests, gaps or batches).
    """

    key: str
    unit: str
    a: float
    b: float
    change_pct: float | None
    verdict: str
    test: str
    n_a: int
    n_b: int
    p_value: float | None = None
    difference: tuple[float, float] | None = None


@dataclass(frozen=True)
class DatasetComparison:
    """One dataset of run ``run`` (label) against the baseline: ``dataset`` is the baseline's key
    (``model_abbr/data_abbr``), ``other`` the run's own key (the same unless the model abbrs differ)."""

    dataset: str
    other: str
    run: str
    stage: str
    rows: list[ComparisonRow]


@dataclass(frozen=True)
class Violation:
    """A row that broke a ``--fail-if`` rule (``rule``: as written)."""

    rule: str
    dataset: str
    run: str
    row: ComparisonRow


def sample_stage(
    table: RequestTable, *, stage: str, batch_size: int, stream: bool, slo: Sequence[SloBound] = ()
) -> StageSample:
    """The sample of ``stage`` (``total`` or ``stable``) of a run, with its goodput under ``slo`` when
    bounds are given; raises ``AllRequestsFailed`` and, for the stable stage, ``NoSteadyStage`` as
    ``compute_summary`` does, ``ConfigError`` for a ttft/tpot bound on a run that did not stream."""
    check_slo_stream(slo, stream)
    requests = compute_per_request(table, stream)
    if len(requests) == 0:
        raise AllRequestsFailed(f"no request succeeded ({len(table)} requests)", hint="compare runs that have results")
    if stage == "stable":
        selection = select_stable_stage(table, requests, batch_size)
    else:
        selection = select_total_stage(table, requests)
    rates = _rates(selection, batch_size)
    if slo:
        rates.update(_goodput_rates(selection, requests, slo))
    return StageSample(stage=stage, latencies_s=_latencies(selection.requests), rates=rates, slo=tuple(slo))


def _latencies(requests: PerRequestMetrics) -> dict[str, np.ndarray]:
    found = {"e2el": requests.e2el_s}
    if requests.stream:
        found["ttft"] = requests.ttft_s
    tpot = requests.tpot_s[requests.tpot_defined]
    if tpot.size:
        found["tpot"] = tpot
    if requests.itl_s.size:
        found["itl"] = requests.itl_s
    return found


def _rates(selection: StageSelection, batch_size: int) -> dict[str, Rate]:
    """The stage's throughputs, with the steady window's intervals or, for the total stage, batch
    means over the span of the successful requests (the total stage's duration)."""
    common = {metric.name: float(metric.value) for metric in compute_common_metrics(selection, batch_size)}
    if selection.window is not None:
        intervals = selection.window.confidence
    else:
        requests = selection.requests
        intervals = _total_stage_intervals(requests, {
            "Request Throughput": (np.ones(len(requests)), "req/s"),
            "Output Token Throughput": (requests.output_tokens, "token/s"),
        })
    return {
        key: Rate(common[name], intervals.get(name))
        for key, (name, _) in THROUGHPUTS.items()
        if name in common
    }


def _total_stage_intervals(
    requests: PerRequestMetrics, weights: dict[str, tuple[np.ndarray, str]]
) -> dict[str, Interval | None]:
    """Batch means of rates over the total stage's span (first start to last end of the successful
    requests), batches at least one median E2EL long, as the steady window's."""
    span = (float(requests.start_s.min()), float(requests.end_s.max()))
    batches = batch_count(span[1] - span[0], float(np.median(requests.e2el_s)))
    return rate_intervals(requests.start_s, requests.end_s, weights, span, batches)


def _goodput_rates(
    selection: StageSelection, requests: PerRequestMetrics, slo: Sequence[SloBound]
) -> dict[str, Rate]:
    """Goodput (req/s) and SLO attainment (share) of the stage, with their intervals (``metrics.goodput``)."""
    goodput = stage_goodput(selection, requests, slo)
    interval = goodput.goodput_interval
    if selection.window is None:
        good = good_requests(selection.requests, slo).astype(np.float64)
        interval = _total_stage_intervals(selection.requests, {"Goodput": (good, "req/s")})["Goodput"]
    return {
        "goodput": Rate(goodput.goodput, interval),
        "slo_attainment": Rate(goodput.attainment, goodput.attainment_interval),
    }


def compare_samples(a: StageSample, b: StageSample) -> list[ComparisonRow]:
    """Every row both samples have, latencies first (``LATENCY_METRICS`` x ``LATENCY_STATS``)."""
    rows: list[ComparisonRow] = []
    for metric in LATENCY_METRICS:
        if metric in a.latencies_s and metric in b.latencies_s:
            rows += _latency_rows(metric, a.latencies_s[metric] * 1000, b.latencies_s[metric] * 1000)
    units = {key: unit for key, (_, unit) in THROUGHPUTS.items()} | GOODPUT_ROWS
    for key, unit in units.items():
        if key in a.rates and key in b.rates:
            rows.append(_rate_row(key, unit, a.rates[key], b.rates[key]))
    return rows


def _latency_rows(metric: str, a_ms: np.ndarray, b_ms: np.ndarray) -> list[ComparisonRow]:
    test = mann_whitney(a_ms, b_ms)
    mean_a, mean_b = float(np.mean(a_ms)), float(np.mean(b_ms))
    if test is None:
        verdict = NOT_TESTED
    elif test.significant:
        verdict = SLOWER if test.b_larger else FASTER
    else:
        verdict = NO_CHANGE
    rows = [
        ComparisonRow(
            key=f"{metric}.mean", unit="ms", a=mean_a, b=mean_b, change_pct=change_pct(mean_a, mean_b),
            verdict=verdict, test="mann-whitney", n_a=a_ms.size, n_b=b_ms.size,
            p_value=None if test is None else test.p_value,
        )
    ]
    qs = tuple(PERCENTILES.values())
    intervals_a = percentile_intervals(a_ms, qs, "ms")
    intervals_b = percentile_intervals(b_ms, qs, "ms")
    values_a, values_b = np.percentile(a_ms, qs), np.percentile(b_ms, qs)
    for (stat, q), value_a, value_b in zip(PERCENTILES.items(), values_a, values_b, strict=True):
        rows.append(
            _interval_row(f"{metric}.{stat}", "ms", (float(value_a), float(value_b)),
                          (intervals_a[q], intervals_b[q]), lower_is_better=True, sizes=(a_ms.size, b_ms.size))
        )
    return rows


def _rate_row(key: str, unit: str, a: Rate, b: Rate) -> ComparisonRow:
    sizes = (a.interval.n if a.interval else 0, b.interval.n if b.interval else 0)
    return _interval_row(key, unit, (a.value, b.value), (a.interval, b.interval), lower_is_better=False, sizes=sizes)


def _interval_row(
    key: str, unit: str, values: tuple[float, float], intervals: tuple[Interval | None, Interval | None],
    *, lower_is_better: bool, sizes: tuple[int, int],
) -> ComparisonRow:
    value_a, value_b = values
    interval_a, interval_b = intervals
    row = ComparisonRow(
        key=key, unit=unit, a=value_a, b=value_b, change_pct=change_pct(value_a, value_b), verdict=NOT_TESTED,
        test=next((interval.method for interval in intervals if interval is not None), "none"),
        n_a=sizes[0], n_b=sizes[1],
    )
    if interval_a is None or interval_b is None:
        return row
    low, high = difference_interval(interval_a, interval_b)
    verdict = NO_CHANGE
    if low > 0 or high < 0:
        b_higher = low > 0
        verdict = SLOWER if b_higher == lower_is_better else FASTER
    return replace(row, verdict=verdict, difference=(low, high))


def change_pct(a: float, b: float) -> float | None:
    """``(b - a) / a`` in percent; None when ``a`` is 0."""
    return (b - a) / a * 100 if a != 0 else None

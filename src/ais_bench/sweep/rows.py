"""One row per sweep point (``sweep.csv`` / ``sweep.json``) and the knee of the sweep.

A row holds the point's results from its ``PerfSummary`` (the stage its summarizer chose): request and
output-token throughput, TTFT/TPOT/ITL/E2EL p50/p90/p99 in ms (from the summarizer's statistics:
``P50`` or ``Median``, ``P90``, ``P99``; empty when the summarizer leaves one out), goodput and SLO
attainment with its Wilson 95 % interval (with ``--goodput``), and the steady window's share of the run
(stable stage). A point that gave no results is a row with ``status`` and ``reason`` and empty numbers.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, fields

from ais_bench.metrics.summary import PerfSummary

#: The per-request metrics and percentiles of a row.
ROW_METRICS = ("TTFT", "TPOT", "ITL", "E2EL")
ROW_PERCENTILES = ("p50", "p90", "p99")
_STAT_NAMES = {"p50": ("P50", "Median"), "p90": ("P90",), "p99": ("P99",)}

#: The knee: the first point after which request throughput grows less than this share of the load's
#: growth (relative gain of throughput / relative gain of load, between consecutive measured points).
KNEE_ELASTICITY = 0.5

STATUS_OK = "ok"


@dataclass(frozen=True)
class SweepRow:
    """One point: ``value`` of the swept axis, ``status`` (``ok``, or what stopped it: ``failed``,
    ``unsteady``, ``interrupted``), ``reason`` (empty when ok), ``run_dir`` (relative to the sweep
    folder); latencies in ms, throughputs in req/s and tokens/s, shares in 0..1; None = not measured."""

    value: float
    status: str
    reason: str
    run_dir: str
    requests: int | None = None
    failed_requests: int | None = None
    request_throughput: float | None = None
    output_token_throughput: float | None = None
    ttft_p50_ms: float | None = None
    ttft_p90_ms: float | None = None
    ttft_p99_ms: float | None = None
    tpot_p50_ms: float | None = None
    tpot_p90_ms: float | None = None
    tpot_p99_ms: float | None = None
    itl_p50_ms: float | None = None
    itl_p90_ms: float | None = None
    itl_p99_ms: float | None = None
    e2el_p50_ms: float | None = None
    e2el_p90_ms: float | None = None
    e2el_p99_ms: float | None = None
    goodput_req_s: float | None = None
    good_requests: int | None = None
    attainment: float | None = None
    attainment_ci_low: float | None = None
    attainment_ci_high: float | None = None
    steady_share: float | None = None

    @property
    def ok(self) -> bool:
        return self.status == STATUS_OK

    @classmethod
    def columns(cls) -> list[str]:
        return [f.name for f in fields(cls)]


def row_from_summary(value: float, run_dir: str, summary: PerfSummary) -> SweepRow:
    """The row of a point that gave results."""
    common = {m.name: m.value for m in summary.common}
    latencies = {
        f"{metric.lower()}_{pct}_ms": _stat_ms(summary, metric, pct) for metric in ROW_METRICS for pct in ROW_PERCENTILES
    }
    goodput = summary.goodput
    interval = goodput.attainment_interval if goodput is not None else None
    return SweepRow(
        value=value, status=STATUS_OK, reason="", run_dir=run_dir,
        requests=_int_or_none(common.get("Total Requests")),
        failed_requests=_int_or_none(common.get("Failed Requests")),
        request_throughput=_float_or_none(common.get("Request Throughput")),
        output_token_throughput=_float_or_none(common.get("Output Token Throughput")),
        goodput_req_s=goodput.goodput if goodput is not None else None,
        good_requests=goodput.good_requests if goodput is not None else None,
        attainment=goodput.attainment if goodput is not None else None,
        attainment_ci_low=interval.low if interval is not None else None,
        attainment_ci_high=interval.high if interval is not None else None,
        steady_share=summary.window.share if summary.window is not None else None,
        **latencies,
    )


def unmeasured_row(value: float, run_dir: str, status: str, reason: str) -> SweepRow:
    """The row of a point that gave no results (failed, no steady stage, interrupted)."""
    return SweepRow(value=value, status=status, reason=reason, run_dir=run_dir)


def _stat_ms(summary: PerfSummary, metric: str, percentile: str) -> float | None:
    for row in summary.rows:
        if row.name != metric:
            continue
        for name in _STAT_NAMES[percentile]:
            if name in row.stats:
                seconds = row.values[row.stats.index(name)]
                return None if seconds is None else seconds * 1000
    return None


def _int_or_none(value: float | None) -> int | None:
    return None if value is None else int(value)


def _float_or_none(value: float | None) -> float | None:
    return None if value is None else float(value)


def find_knee(rows: list[SweepRow]) -> float | None:
    """The swept value of the knee: among the points with results, in ascending value, the first whose
    next point's request throughput grows by less than ``KNEE_ELASTICITY`` times the load's relative
    growth (beyond it, more load mostly buys latency). None with fewer than two such points or when
    throughput keeps up with the load throughout."""
    measured = sorted(
        (r for r in rows if r.ok and r.request_throughput is not None and r.value > 0), key=lambda r: r.value
    )
    for before, after in itertools.pairwise(measured):
        assert before.request_throughput is not None and after.request_throughput is not None
        load_gain = after.value / before.value - 1
        if before.request_throughput <= 0:
            continue
        throughput_gain = after.request_throughput / before.request_throughput - 1
        if throughput_gain < KNEE_ELASTICITY * load_gain:
            return before.value
    return None

"""The 12 common (end-to-end) metrics of a stage (behaviour spec §5.3).

With D the stage duration (seconds), S the successful and T all requests of the stage, and W the
stage's ``work`` (total stage: S and their tokens; stable stage: every successful request weighted by
the fraction of its time inside the window, see ``stable_stage``):

| name | value | unit |
| --- | --- | --- |
| Benchmark Duration | D * 1000 | ms |
| Total Requests / Failed Requests / Success Requests | T / T - S / S | |
| Concurrency | W.busy_s / D: total stage sum(E2EL) / D, stable stage the time-averaged in-flight count | |
| Max Concurrency | batch_size; stable stage: the observed peak in flight in the window | |
| Request Throughput | W.requests / D, 0 when D == 0 | req/s |
| Total Input Tokens / Total Generated Tokens | sum of input / output tokens of the S requests | |
| Input / Output / Total Token Throughput | W.tokens / D; omitted when D == 0 | token/s |

Concurrency is 0 when D == 0 (the original divides by zero there). Values are full precision; the
AISBench rounding (4 decimals) is applied only when a table shows them (``ais_bench.reports.cells``).
"""

from __future__ import annotations

from typing import NamedTuple

from ais_bench.errors import AllRequestsFailed
from ais_bench.metrics.stage import StageSelection

COMMON_METRIC_NAMES = (
    "Benchmark Duration",
    "Total Requests",
    "Failed Requests",
    "Success Requests",
    "Concurrency",
    "Max Concurrency",
    "Request Throughput",
    "Total Input Tokens",
    "Total Generated Tokens",
    "Input Token Throughput",
    "Output Token Throughput",
    "Total Token Throughput",
)


class CommonMetric(NamedTuple):
    """One common metric: ``value`` is a number in ``unit`` (``""`` for counts and Concurrency)."""

    name: str
    value: int | float
    unit: str


def compute_common_metrics(selection: StageSelection, batch_size: int) -> list[CommonMetric]:
    """The common metrics of a stage, in display order; raises ``AllRequestsFailed`` when S == 0."""
    requests = selection.requests
    success = selection.success_requests
    if success == 0:
        raise AllRequestsFailed(
            "All requests failed, cannot calculate performance results",
            hint="check the server address, the model name and the failure messages in the details file; "
            "see docs/troubleshooting.md#failed-requests",
        )
    duration_s = selection.duration_s
    work = selection.work
    input_tokens = int(requests.input_tokens.sum())
    output_tokens = int(requests.output_tokens.sum())
    metrics = [
        CommonMetric("Benchmark Duration", duration_s * 1000, "ms"),
        CommonMetric("Total Requests", selection.total_requests, ""),
        CommonMetric("Failed Requests", selection.failed_requests, ""),
        CommonMetric("Success Requests", success, ""),
        CommonMetric("Concurrency", _per_second(work.busy_s, duration_s), ""),
        CommonMetric(
            "Max Concurrency", batch_size if work.peak_in_flight is None else work.peak_in_flight, ""
        ),
        CommonMetric("Request Throughput", _per_second(work.requests, duration_s), "req/s"),
        CommonMetric("Total Input Tokens", input_tokens, ""),
        CommonMetric("Total Generated Tokens", output_tokens, ""),
    ]
    if duration_s > 0:
        metrics += [
            CommonMetric("Input Token Throughput", _per_second(work.input_tokens, duration_s), "token/s"),
            CommonMetric("Output Token Throughput", _per_second(work.output_tokens, duration_s), "token/s"),
            CommonMetric(
                "Total Token Throughput",
                _per_second(work.input_tokens + work.output_tokens, duration_s),
                "token/s",
            ),
        ]
    return metrics


def _per_second(amount: float, duration_s: float) -> float:
    """``amount / duration_s``; 0.0 when the duration is not positive."""
    return amount / duration_s if duration_s > 0 else 0.0

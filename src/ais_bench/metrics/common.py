"""The 12 common (end-to-end) metrics of a stage (behaviour spec §5.3).

With D the stage duration (seconds), S the successful and T all requests of the stage:

| name | value | unit |
| --- | --- | --- |
| Benchmark Duration | round(D * 1000, 4) | ms |
| Total Requests / Failed Requests / Success Requests | T / T - S / S | |
| Concurrency | round(sum(E2EL) / D, 4); stable stage: min(that, batch_size) | |
| Max Concurrency | batch_size | |
| Request Throughput | round(S / D, 4), 0 when D == 0 | req/s |
| Total Input Tokens / Total Generated Tokens | sum of input / output tokens | |
| Input / Output / Total Token Throughput | round(tokens / D, 4); omitted when D == 0 | token/s |

Concurrency is 0 when D == 0 (the original divides by zero there).
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
    input_tokens = int(requests.input_tokens.sum())
    output_tokens = int(requests.output_tokens.sum())
    concurrency: int | float = round(float(requests.e2el_s.sum()) / duration_s, 4) if duration_s > 0 else 0.0
    if selection.name == "stable":
        concurrency = min(concurrency, batch_size)  # the int batch_size when capped, as the original
    metrics = [
        CommonMetric("Benchmark Duration", round(duration_s * 1000, 4), "ms"),
        CommonMetric("Total Requests", selection.total_requests, ""),
        CommonMetric("Failed Requests", selection.failed_requests, ""),
        CommonMetric("Success Requests", success, ""),
        CommonMetric("Concurrency", concurrency, ""),
        CommonMetric("Max Concurrency", batch_size, ""),
        CommonMetric(
            "Request Throughput", round(success / duration_s, 4) if duration_s > 0 else 0.0, "req/s"
        ),
        CommonMetric("Total Input Tokens", input_tokens, ""),
        CommonMetric("Total Generated Tokens", output_tokens, ""),
    ]
    if duration_s > 0:
        metrics += [
            CommonMetric("Input Token Throughput", round(input_tokens / duration_s, 4), "token/s"),
            CommonMetric("Output Token Throughput", round(output_tokens / duration_s, 4), "token/s"),
            CommonMetric(
                "Total Token Throughput", round((input_tokens + output_tokens) / duration_s, 4), "token/s"
            ),
        ]
    return metrics

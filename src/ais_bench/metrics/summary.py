"""One stage's performance summary: per-request metric statistics plus the common metrics."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ais_bench.errors import AllRequestsFailed
from ais_bench.metrics.common import CommonMetric, compute_common_metrics
from ais_bench.metrics.goodput import Goodput, SloBound, check_slo_stream, stage_goodput
from ais_bench.metrics.per_request import PerRequestMetrics, compute_per_request
from ais_bench.metrics.stable_stage import select_stable_stage
from ais_bench.metrics.stage import STAGES, StableWindow, StageSelection
from ais_bench.metrics.stats import DEFAULT_STATS, MetricStats, compute_metric_stats
from ais_bench.metrics.total_stage import select_total_stage
from ais_bench.records.record import RequestTable

#: Per-request metric rows in display order (behaviour spec §5.1).
METRIC_ROW_NAMES = (
    "E2EL",
    "TTFT",
    "TPOT",
    "ITL",
    "InputTokens",
    "OutputTokens",
    "OutputTokenThroughput",
    "PrefillTokenThroughput",
    "SlotWait",
)

#: A sum of latencies (seconds) at or below this is "~0" for row suppression.
_ZERO_SUM_S = 1e-9


@dataclass(frozen=True, slots=True)
class PerfSummary:
    """Everything the writers show for one (model, dataset) and stage.

    ``rows``: per-request metric statistics in §5.1 order, suppressed rows left out.
    ``common``: the common metrics in §5.3 order (``(name, value, unit)``).
    ``window``: the steady window facts (stable stage only). ``warnings``: texts for the user.
    ``goodput``: goodput under the SLO bounds asked for (``compute_summary(slo=...)``), else None.
    """

    stage: str
    stats_list: tuple[str, ...]
    rows: list[MetricStats]
    common: list[CommonMetric]
    window: StableWindow | None = None
    warnings: list[str] = field(default_factory=list)
    goodput: Goodput | None = None


def compute_summary(
    table: RequestTable,
    *,
    stage: str,
    stats_list: Sequence[str] = DEFAULT_STATS,
    batch_size: int,
    stream: bool,
    slo: Sequence[SloBound] = (),
) -> PerfSummary:
    """Summarise ``table`` for ``stage`` ("total" or "stable"); with ``slo`` bounds, its goodput too.

    Raises ``ConfigError`` when an SLO bound needs streaming and ``stream`` is off,
    ``AllRequestsFailed`` when no request succeeded with >= 2 time points, and (stable stage)
    ``NoSteadyStage`` when in-flight never held at ``batch_size`` long enough.
    """
    if stage not in STAGES:
        raise ValueError(f"stage must be one of {STAGES}, got {stage!r}")
    check_slo_stream(slo, stream)
    stats = list(stats_list)
    warnings: list[str] = []
    requests = compute_per_request(table, stream)
    if len(requests) == 0:
        raise AllRequestsFailed(
            f"All requests failed, cannot calculate performance results ({len(table)} requests)",
            hint="check the server address, the model name and the failure messages in the details file; "
            "see docs/troubleshooting.md#failed-requests",
        )
    selection: StageSelection
    if stage == "stable":
        selection = select_stable_stage(table, requests, batch_size)
    else:
        selection = select_total_stage(table, requests)
    warnings += selection.warnings
    if selection.failed_requests:
        warnings.append(
            f"{selection.failed_requests} of {selection.total_requests} requests failed in the {stage} stage"
        )
    return PerfSummary(
        stage=stage,
        stats_list=tuple(stats),
        rows=build_metric_rows(selection.requests, stage, stats),
        common=compute_common_metrics(selection, batch_size),
        window=selection.window,
        warnings=warnings,
        goodput=stage_goodput(selection, requests, slo) if slo else None,
    )


def build_metric_rows(requests: PerRequestMetrics, stage: str, stats: Sequence[str]) -> list[MetricStats]:
    """Statistics of every per-request metric, applying the row suppression rules of §5.1.

    - TTFT (and with it PrefillTokenThroughput) is left out when not streaming or when the sum of TTFT
      over the stage is ~0; TPOT is left out when its sum is ~0 (e.g. every output <= 1 token).
    - ITL is left out only when the stage has **no non-zero gap at all**. Deliberate difference: the
      original also drops it when just the *first* request's ITL array is all zeros.
    - ``N`` is the number of values the row's statistics were computed over: successful requests,
      but for TPOT the requests that have one (streamed, more than one output token: a 1-token
      request has no TPOT and is left out, not counted as 0) and for ITL the number of gaps.
    - SlotWait (not in AISBench) is shown only when a paced request of the stage waited for a free
      ``batch_size`` slot after its planned send time; N = the paced requests that used a slot.
    """
    success = len(requests)
    decoding = int(np.count_nonzero(requests.itl_any_nonzero))
    tpot_values = requests.tpot_s[requests.tpot_defined]
    show_ttft = requests.stream and float(requests.ttft_s.sum()) > _ZERO_SUM_S
    show_tpot = float(tpot_values.sum()) > _ZERO_SUM_S
    show_itl = decoding > 0
    slot_waits = requests.slot_wait_s[~np.isnan(requests.slot_wait_s)]
    show_slot_wait = bool(np.any(slot_waits > 0))
    candidates: list[tuple[str, np.ndarray, str, int, bool]] = [
        ("E2EL", requests.e2el_s, "ms", success, True),
        ("TTFT", requests.ttft_s, "ms", success, show_ttft),
        ("TPOT", tpot_values, "ms", len(tpot_values), show_tpot),
        ("ITL", requests.itl_s, "ms", len(requests.itl_s), show_itl),
        ("InputTokens", requests.input_tokens, "", success, True),
        ("OutputTokens", requests.output_tokens, "", success, True),
        ("OutputTokenThroughput", requests.output_token_throughput, "token/s", success, True),
        ("PrefillTokenThroughput", requests.prefill_token_throughput, "token/s", success, show_ttft),
        ("SlotWait", slot_waits, "ms", len(slot_waits), show_slot_wait),
    ]
    return [
        compute_metric_stats(name, stage, values, stats, unit=unit, n=n)
        for name, values, unit, n, shown in candidates
        if shown
    ]

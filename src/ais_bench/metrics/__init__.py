"""Pure numpy metrics: per-request values, stages (total, stable), statistics. No I/O, no printing."""

from __future__ import annotations

from ais_bench.metrics.common import COMMON_METRIC_NAMES, CommonMetric, compute_common_metrics
from ais_bench.metrics.goodput import SLO_METRICS, BoundMisses, Goodput, SloBound, compute_goodput
from ais_bench.metrics.per_request import PerRequestMetrics, compute_per_request
from ais_bench.metrics.stable_stage import find_stable_window, select_stable_stage
from ais_bench.metrics.stage import STAGES, StableWindow, StageSelection
from ais_bench.metrics.stats import DEFAULT_STATS, MetricStats, is_statistic
from ais_bench.metrics.summary import METRIC_ROW_NAMES, PerfSummary, compute_summary
from ais_bench.metrics.total_stage import select_total_stage

__all__ = [
    "COMMON_METRIC_NAMES",
    "DEFAULT_STATS",
    "METRIC_ROW_NAMES",
    "SLO_METRICS",
    "STAGES",
    "BoundMisses",
    "CommonMetric",
    "Goodput",
    "MetricStats",
    "PerRequestMetrics",
    "PerfSummary",
    "SloBound",
    "StableWindow",
    "StageSelection",
    "compute_common_metrics",
    "compute_goodput",
    "compute_per_request",
    "compute_summary",
    "find_stable_window",
    "is_statistic",
    "select_stable_stage",
    "select_total_stage",
]

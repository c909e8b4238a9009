"""``<ds>_summary.json``: the run's results for scripts, beside the AISBench-compatible ``<ds>.json``.

Every number is a JSON number in a base unit named by its key or its ``unit`` (``ms``, ``tokens``,
``requests``, ``req/s``, ``tokens/s``), at full precision; nothing is a string with a unit in it.
The document's shape is ``summary.schema.json`` beside this file (docs/outputs.md); a change of a
key's meaning or a removed key raises ``SCHEMA_VERSION``, added keys do not.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from ais_bench.metrics.goodput import Goodput
from ais_bench.metrics.stage import Interval, StableWindow
from ais_bench.metrics.summary import PerfSummary
from ais_bench.reports.cells import document_identity, write_json_document
from ais_bench.reports.goodput_text import goodput_mapping

SCHEMA_NAME = "ais_bench.summary"
SCHEMA_VERSION = 1
SCHEMA_FILE = "summary.schema.json"

#: The display units of the metrics (``MetricStats.unit``, ``CommonMetric.unit``) as base units.
_METRIC_UNITS = {"ms": "ms", "": "tokens", "token/s": "tokens/s", "req/s": "req/s"}
#: Common metrics without a display unit: what they count.
_COUNT_UNITS = {
    "Total Requests": "requests",
    "Failed Requests": "requests",
    "Success Requests": "requests",
    "Concurrency": "requests",
    "Max Concurrency": "requests",
    "Total Input Tokens": "tokens",
    "Total Generated Tokens": "tokens",
}
#: Run facts (``<ds>.json``'s ``"_ais_bench"`` entries) copied as they are.
_FACT_KEYS = (
    "run_state", "stop_signal", "stop_reason", "failed_reasons", "finish_reasons", "retries", "server_metrics",
)


@dataclass(frozen=True)
class SummaryContext:
    """What the summary says beside the metrics: which run it is (``model_abbr``, ``data_abbr``), the
    run's merged config dump (``config_text``, "" when the run folder has none; its SHA-256 is the
    config digest) and the run facts of ``<ds>.json``'s ``"_ais_bench"`` key (run state, failure and
    finish reasons, retries, ``client_self_check``)."""

    model_abbr: str
    data_abbr: str
    config_text: str
    facts: dict[str, Any]


def summary_document(summary: PerfSummary, context: SummaryContext) -> dict[str, Any]:
    """The mapping written to ``<ds>_summary.json``."""
    facts = context.facts
    document: dict[str, Any] = {
        **document_identity(SCHEMA_NAME, SCHEMA_VERSION),
        "model_abbr": context.model_abbr,
        "data_abbr": context.data_abbr,
        "config_digest": config_digest(context.config_text),
        "stage": summary.stage,
        "stats": list(summary.stats_list),
        "metrics": {row.name: _metric(row.unit, row.n, dict(zip(row.stats, row.values, strict=True)))
                    for row in summary.rows},
        "common": {m.name: {"value": m.value, "unit": _common_unit(m.name, m.unit)} for m in summary.common},
        "window": None if summary.window is None else window_entry(summary.window),
        "warnings": list(summary.warnings),
        "client_self_check": facts.get("client_self_check"),
    }
    document.update({key: facts[key] for key in _FACT_KEYS if key in facts})
    if summary.goodput is not None:
        document["goodput"] = goodput_entry(summary.goodput)
    return document


def config_digest(config_text: str) -> str | None:
    """``sha256:<hex>`` of the run's config dump (UTF-8), None when there is none."""
    if not config_text:
        return None
    return "sha256:" + hashlib.sha256(config_text.encode("utf-8")).hexdigest()


def _metric(unit: str, n: int, stats: dict[str, float | None]) -> dict[str, Any]:
    """A per-request metric: its statistics in base units (latencies: seconds -> ms)."""
    scale = 1000.0 if unit == "ms" else 1.0
    values = {name: None if value is None else value * scale for name, value in stats.items()}
    return {"unit": _METRIC_UNITS.get(unit, unit), "n": n, "values": values}


def _common_unit(name: str, unit: str) -> str:
    return _METRIC_UNITS[unit] if unit else _COUNT_UNITS.get(name, "")


def window_entry(window: StableWindow) -> dict[str, Any]:
    """The steady window in ms after the first send, its share of the run and its steadiness."""
    return {
        "start_ms": window.start_rel_s * 1000,
        "end_ms": window.end_rel_s * 1000,
        "duration_ms": window.duration_s * 1000,
        "run_duration_ms": window.run_duration_s * 1000,
        "share": window.share,
        "requests": window.requests,
        "success_requests": window.success_requests,
        "failed_requests": window.failed_requests,
        "work_requests": window.work_requests,
        "batch_size": window.batch_size,
        "mean_in_flight": window.mean_in_flight,
        "peak_in_flight": window.peak_in_flight,
        "at_batch_size_share": window.at_batch_size_share,
        "longest_below_batch_size_ms": window.longest_below_batch_size_s * 1000,
        "max_e2el_ms": window.max_e2el_s * 1000,
        "reliable": window.reliable,
        "confidence": {name: _interval(interval) for name, interval in window.confidence.items()},
        "warnings": list(window.warnings),
    }


def goodput_entry(goodput: Goodput) -> dict[str, Any]:
    """Goodput under the SLO bounds: req/s, the share of good requests (0..1) and its interval,
    the requests that missed each bound (docs/metrics.md)."""
    return goodput_mapping(goodput, _interval, duration=("duration_ms", goodput.duration_s * 1000))


def _interval(interval: Interval | None) -> dict[str, Any] | None:
    if interval is None:
        return None
    unit = _METRIC_UNITS.get(interval.unit, interval.unit) if interval.unit else "share"
    return {
        "estimate": interval.estimate, "low": interval.low, "high": interval.high,
        "unit": unit, "method": interval.method, "n": interval.n,
    }


def write_summary_json(summary: PerfSummary, context: SummaryContext, path: str | Path) -> None:
    """Write ``<ds>_summary.json``; raises ``OutputError`` when the file cannot be written."""
    write_json_document(path, summary_document(summary, context))


def summary_schema() -> dict[str, Any]:
    """The JSON Schema of ``<ds>_summary.json`` (shipped in the package)."""
    schema: dict[str, Any] = json.loads(resources.files(__package__).joinpath(SCHEMA_FILE).read_text("utf-8"))
    return schema

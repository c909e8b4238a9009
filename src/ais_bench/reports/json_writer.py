"""``<ds>.json``: the common metrics, ``metric name -> {stage: value}``, indent 4, UTF-8.

Values with a unit are strings (``"98409.49163412 ms"``, ``"0.08132751 req/s"``); counts and
Concurrency are numbers. Values keep full precision (Python's shortest repr of the float); AISBench
rounds them to 4 decimals here, we round only in the tables and the csv (docs/aisbench-differences.md). Our extra facts live under the one key ``"_ais_bench"``
(``{"stage", "window", "warnings"}``, and ``"goodput"`` when SLO bounds were given) so the common metric names stay exactly the original's.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from ais_bench.metrics.summary import PerfSummary
from ais_bench.reports.cells import format_cell, write_text
from ais_bench.reports.goodput_text import goodput_json

EXTRA_KEY = "_ais_bench"


def json_document(summary: PerfSummary, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The mapping written to ``<ds>.json``; ``extra`` entries join the ``"_ais_bench"`` key."""
    document: dict[str, Any] = {m.name: {summary.stage: format_cell(m.value, m.unit)} for m in summary.common}
    window = None
    if summary.window is not None:
        window = dataclasses.asdict(summary.window)
        window["reliable"] = summary.window.reliable
    document[EXTRA_KEY] = {"stage": summary.stage, "window": window, "warnings": list(summary.warnings)}
    if summary.goodput is not None:
        document[EXTRA_KEY]["goodput"] = goodput_json(summary.goodput)
    document[EXTRA_KEY].update(extra or {})
    return document


def write_json(summary: PerfSummary, path: str | Path, extra: dict[str, Any] | None = None) -> None:
    """Write the json; raises ``OutputError`` when the file cannot be written."""
    write_text(path, json.dumps(json_document(summary, extra), indent=4, ensure_ascii=False) + "\n")


def read_json(path: str | Path) -> dict[str, Any]:
    """The json back as a dict."""
    with Path(path).open(encoding="utf-8") as handle:
        result: dict[str, Any] = json.load(handle)
    return result

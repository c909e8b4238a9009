"""What ``ais_bench compare`` prints and ``compare.json`` (docs/outputs.md): formatting only."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ais_bench.metrics.comparison import ComparisonRow, DatasetComparison, Violation
from ais_bench.reports.cells import MISSING, document_identity, write_json_document

SCHEMA_NAME = "ais_bench.compare"
SCHEMA_VERSION = 1
#: Level of every verdict (two-sided).
CONFIDENCE = 0.95


def format_pair(pair: DatasetComparison, baseline: str) -> str:
    """The table of one pair (fits 120 columns): metric, unit, baseline (A), run (B), change, verdict
    and its evidence (the Mann–Whitney p of a mean; the 95 % interval of B - A otherwise)."""
    from tabulate import tabulate

    title = f"{pair.dataset} ({pair.stage} stage): {pair.run} (B) against the baseline {baseline} (A)"
    body = [
        [row.key, row.unit, format_number(row.a, row.unit), format_number(row.b, row.unit),
         format_change(row.change_pct), row.verdict, _evidence(row)]
        for row in pair.rows
    ]
    headers = ["Metric", "Unit", "A", "B", "Change", f"Verdict ({CONFIDENCE:.0%})", "p / 95% CI of B-A"]
    table = tabulate(body, headers=headers, tablefmt="simple", disable_numparse=True, colalign=_ALIGN)
    return f"{title}\n{table}"


_ALIGN = ("left", "left", "right", "right", "right", "left", "left")


def format_number(value: float, unit: str) -> str:
    """Two decimals; a share (0..1) four."""
    if not math.isfinite(value):
        return MISSING
    return f"{value:.4f}" if unit == "share" else f"{value:,.2f}"


def format_change(change_pct: float | None) -> str:
    return MISSING if change_pct is None else f"{change_pct:+.1f}%"


def _evidence(row: ComparisonRow) -> str:
    if row.p_value is not None:
        return f"p={row.p_value:.2g}"
    if row.difference is not None:
        digits = 4 if row.unit == "share" else 2
        low, high = row.difference
        return f"[{low:,.{digits}f}, {high:,.{digits}f}]"
    return "too few values" if row.test != "batch means" else "run too short"


def format_violation(violation: Violation, where: str = "") -> str:
    """The error line of a broken rule; ``where``: the sweep point it was broken at (``concurrency 4``)."""
    row = violation.row
    at = f"{where}, " if where else ""
    return (
        f"--fail-if {violation.rule} violated: {at}{violation.dataset} of {violation.run}: "
        f"{format_number(row.b, row.unit)} {row.unit} against {format_number(row.a, row.unit)} {row.unit} "
        f"({format_change(row.change_pct)})"
    )


def comparison_document(
    runs: Sequence[tuple[str, str]], pairs: Sequence[DatasetComparison], notes: Sequence[str],
    violations: Sequence[Violation], rules: Sequence[str],
) -> dict[str, Any]:
    """``compare.json``: ``runs`` are (label, path) with the baseline first."""
    return {
        **document_identity(SCHEMA_NAME, SCHEMA_VERSION),
        "confidence": CONFIDENCE,
        "kind": "runs",
        "baseline": runs[0][0],
        "runs": [{"label": label, "path": path} for label, path in runs],
        "rows": [row_entry(pair, row) for pair in pairs for row in pair.rows],
        "notes": list(notes),
        "fail_if": list(rules),
        "violations": [
            {"rule": v.rule, "dataset": v.dataset, "run": v.run, "key": v.row.key} for v in violations
        ],
    }


def row_entry(pair: DatasetComparison, row: ComparisonRow) -> dict[str, Any]:
    metric, _, stat = row.key.partition(".")
    low, high = row.difference if row.difference is not None else (None, None)
    return {
        "dataset": pair.dataset,
        "run": pair.run,
        "stage": pair.stage,
        "key": row.key,
        "metric": metric,
        "stat": stat or None,
        "unit": row.unit,
        "a": row.a,
        "b": row.b,
        "change_pct": row.change_pct,
        "verdict": row.verdict,
        "test": row.test,
        "p_value": row.p_value,
        "difference_low": low,
        "difference_high": high,
        "n_a": row.n_a,
        "n_b": row.n_b,
    }


def write_comparison_json(document: dict[str, Any], path: Path) -> None:
    write_json_document(path, document)

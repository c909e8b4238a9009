"""What ``ais_bench compare SWEEP_A SWEEP_B`` prints and its ``compare.json`` (docs/outputs.md):
formatting only, of a ``sweep.comparison.SweepComparison``.

Printed: per compared sweep and dataset, one table per metric family (TTFT, TPOT, ITL, E2EL at p50
and p99, the throughputs, goodput and SLO attainment) with one line per paired point, then the
sweep-level answers (knee, highest load meeting the SLO). Every row (means and p90 too, with their
evidence) is in ``compare.json``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ais_bench.metrics.comparison import FASTER, NO_CHANGE, SLOWER, ComparisonRow, DatasetComparison
from ais_bench.reports.cells import MISSING, document_identity
from ais_bench.reports.compare_report import (
    CONFIDENCE,
    SCHEMA_NAME,
    SCHEMA_VERSION,
    format_change,
    format_number,
    format_violation,
    row_entry,
)
from ais_bench.sweep.comparison import PointViolation, SweepComparison, SweepLevel

#: The printed tables: title -> (row key, column label) of its two statistics.
FAMILIES: dict[str, tuple[tuple[str, str], ...]] = {
    "TTFT (ms)": (("ttft.p50", "p50"), ("ttft.p99", "p99")),
    "TPOT (ms)": (("tpot.p50", "p50"), ("tpot.p99", "p99")),
    "ITL (ms)": (("itl.p50", "p50"), ("itl.p99", "p99")),
    "E2EL (ms)": (("e2el.p50", "p50"), ("e2el.p99", "p99")),
    "Throughput": (("request_throughput", "req/s"), ("output_token_throughput", "tokens/s")),
    "Goodput": (("goodput", "req/s"), ("slo_attainment", "share")),
}
_SHORT_VERDICTS = {NO_CHANGE: "no sig. change"}


def format_sweep_comparison(comparison: SweepComparison) -> list[str]:
    """The printed blocks: per compared sweep and dataset a title and its family tables (each fits
    120 columns), then per compared sweep its sweep-level lines."""
    blocks = []
    axis = comparison.axis
    for sweep in comparison.sweeps[1:]:
        points = [(p.value, pair) for p in comparison.points if p.run == sweep.label for pair in p.pairs]
        for dataset in dict.fromkeys(pair.dataset for _, pair in points):
            chosen = [(value, pair) for value, pair in points if pair.dataset == dataset]
            title = (f"{dataset} ({chosen[0][1].stage} stage), by {axis}: {sweep.label} (B) against the baseline "
                     f"{comparison.baseline.label} (A)")
            tables = [_family_table(family, axis, chosen) for family in FAMILIES]
            blocks.append("\n\n".join([title, *(table for table in tables if table)]))
    blocks += [format_level(level, axis, comparison.baseline.label) for level in comparison.levels]
    return blocks


def _family_table(family: str, axis: str, points: list[tuple[float, DatasetComparison]]) -> str:
    """One line per point: its value, then per statistic A, B, the change and the verdict; empty when
    no point has the family's rows (goodput without SLO bounds, TTFT of runs that did not stream)."""
    from tabulate import tabulate

    stats = FAMILIES[family]
    body = []
    for value, pair in points:
        rows = {row.key: row for row in pair.rows}
        if not any(key in rows for key, _ in stats):
            continue
        line = [f"{value:g}"]
        for key, _ in stats:
            line += _cells(rows.get(key))
        body.append(line)
    if not body:
        return ""
    headers = [f"{family}: {axis}"]
    for _, label in stats:
        headers += [f"A {label}", f"B {label}", "Change", "Verdict"]
    align = ("left", *(("right", "right", "right", "left") * len(stats)))
    return str(tabulate(body, headers=headers, tablefmt="simple", disable_numparse=True, colalign=align))


def _cells(row: ComparisonRow | None) -> list[str]:
    if row is None:
        return [MISSING] * 4
    return [format_number(row.a, row.unit), format_number(row.b, row.unit), format_change(row.change_pct),
            _SHORT_VERDICTS.get(row.verdict, row.verdict)]


def format_level(level: SweepLevel, axis: str, baseline: str) -> str:
    """The sweep-level lines of one compared sweep: its knee and highest passing load against the baseline's."""
    lines = [f"{level.run} (B) against {baseline} (A), whole sweeps:",
             f"  knee ({axis}): A {_value(level.knee_a)}, B {_value(level.knee_b)}"]
    if level.max_passing_source is not None:
        how = "SLO search" if level.max_passing_source == "slo_search" else "highest measured point"
        lines.append(f"  highest {axis} meeting SLO attainment {level.target:g} ({how}): "
                     f"A {_passing(level.max_passing_a, level.passed_all_a)}, "
                     f"B {_passing(level.max_passing_b, level.passed_all_b)}")
        if level.passed_all_a or level.passed_all_b:
            lines.append("  (+: every point of that sweep passed, so its limit is higher)")
    return "\n".join(lines)


def _value(value: float | None) -> str:
    return "none" if value is None else f"{value:g}"


def _passing(value: float | None, passed_all: bool) -> str:
    return f"{_value(value)}+" if passed_all else _value(value)


def format_point_violation(violation: PointViolation) -> str:
    return format_violation(violation.violation, f"{violation.axis} {violation.value:g}")


def sweep_comparison_document(
    comparison: SweepComparison, violations: Sequence[PointViolation], rules: Sequence[str]
) -> dict[str, Any]:
    """``compare.json`` of sweeps: the run comparison's keys (``rows`` with the ``point`` each belongs
    to), plus the sweeps' curves, the paired points and the sweep-level answers."""
    return {
        **document_identity(SCHEMA_NAME, SCHEMA_VERSION),
        "confidence": CONFIDENCE,
        "kind": "sweeps",
        "axis": comparison.axis,
        "baseline": comparison.baseline.label,
        "runs": [{"label": s.label, "path": str(s.path)} for s in comparison.sweeps],
        "points": [
            {"value": p.value, "run": p.run, "datasets": [pair.dataset for pair in p.pairs],
             "beyond_noise": sorted({row.key for pair in p.pairs for row in pair.rows if row.verdict in (FASTER, SLOWER)})}
            for p in comparison.points
        ],
        "rows": [{"point": p.value, **row_entry(pair, row)} for p in comparison.points for pair in p.pairs
                 for row in pair.rows],
        "sweeps": [_sweep_level_entry(level) for level in comparison.levels],
        "curves": {s.label: {"knee": s.knee, "points": s.curve()} for s in comparison.sweeps},
        "notes": list(comparison.notes),
        "fail_if": list(rules),
        "violations": [
            {"rule": v.violation.rule, "point": v.value, "dataset": v.violation.dataset, "run": v.violation.run,
             "key": v.violation.row.key}
            for v in violations
        ],
    }


def _sweep_level_entry(level: SweepLevel) -> dict[str, Any]:
    return {
        "run": level.run,
        "knee_a": level.knee_a,
        "knee_b": level.knee_b,
        "max_passing_a": level.max_passing_a,
        "max_passing_b": level.max_passing_b,
        "max_passing_source": level.max_passing_source,
        "slo_attainment_target": level.target,
        "passed_all_a": level.passed_all_a,
        "passed_all_b": level.passed_all_b,
    }

"""Compare sweeps: pair the points of each sweep with the baseline sweep's by swept value and compare
every pair of point runs with ``compare_runs`` (the same rows and verdicts as a run comparison), then
the sweep-level answers: the knee and the highest load meeting the SLO, A against B.

A sweep folder holds ``sweep.json`` (``reports/sweep_report.py``) and one run folder per point. The
sweeps must share the axis (``concurrency`` or ``request_rate``); a point measured by one sweep only,
or without results in one of them, is named in a note and not compared.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ais_bench.api.compare import compare_runs, pair_violations, unique_labels
from ais_bench.api.workdir import display
from ais_bench.config.fail_if import FailIf
from ais_bench.errors import ConfigError, NoSteadyStage
from ais_bench.metrics.goodput import SloBound
from ais_bench.sweep.comparison import (
    PointComparison,
    PointViolation,
    SweepComparison,
    SweepLevel,
    SweepResults,
    number_or_none,
)

SWEEP_JSON = "sweep.json"
#: The SLO attainment a point must reach to pass when a sweep ran no ``--slo-search`` (its default target).
DEFAULT_TARGET = 0.99


def is_sweep_folder(folder: str | Path) -> bool:
    """Whether ``folder`` is a sweep folder (it holds ``sweep.json``)."""
    return (Path(folder) / SWEEP_JSON).is_file()


def folders_are_sweeps(folders: Sequence[str | Path]) -> bool:
    """True when every folder is a sweep folder, False when none is; a one-line ``ConfigError`` for a mix."""
    sweeps = [folder for folder in folders if is_sweep_folder(folder)]
    if not sweeps or len(sweeps) == len(folders):
        return bool(sweeps)
    run = next(folder for folder in folders if not is_sweep_folder(folder))
    raise ConfigError(
        f"cannot compare the sweep folder {display(Path(sweeps[0]))} with the run folder {display(Path(run))}",
        hint="give only sweep folders (with sweep.json) or only run folders",
    )


def compare_sweeps(
    folders: Sequence[str | Path], *, stage: str | None = None, slo: Sequence[SloBound] | None = None
) -> SweepComparison:
    """Compare every sweep folder after the first with the first, point by point (``stage`` and ``slo``
    as ``compare_runs`` takes them, for every point). Raises a one-line ``ConfigError`` for a folder
    that is not a readable sweep, sweeps of two axes, or sweeps without a point in common."""
    if len(folders) < 2:
        raise ConfigError("compare needs at least two sweep folders", hint="ais_bench compare SWEEP_A SWEEP_B")
    sweeps = _labelled([load_sweep_results(Path(folder)) for folder in folders])
    baseline = sweeps[0]
    comparison = SweepComparison(sweeps=sweeps)
    for sweep in sweeps[1:]:
        if sweep.axis != baseline.axis:
            raise ConfigError(
                f"cannot compare a {sweep.axis} sweep ({sweep.label}) with a {baseline.axis} sweep ({baseline.label})",
                hint="compare sweeps of the same axis (--concurrency with --concurrency, --request-rate with --request-rate)",
            )
        values = paired_values(baseline, sweep)
        if not values:
            raise ConfigError(
                f"the sweeps have no measured {baseline.axis} in common: {baseline.label} has "
                f"{_values_text(baseline.points)}, {sweep.label} has {_values_text(sweep.points)}",
                hint="compare sweeps over the same values",
            )
        compared = [point for value in values if (point := _compare_point(comparison, sweep, value, stage, slo))]
        if not compared:
            raise NoSteadyStage(
                f"no point of {sweep.label} could be compared with {baseline.label} on the stable stage",
                hint="compare the whole runs with --stage total",
            )
        comparison.notes += unpaired_point_notes(baseline, sweep)
        comparison.levels.append(sweep_level(baseline, sweep))
    return comparison


def _compare_point(
    comparison: SweepComparison, sweep: SweepResults, value: float, stage: str | None,
    slo: Sequence[SloBound] | None,
) -> PointComparison | None:
    """The point ``value`` of ``sweep`` against the baseline's, added to ``comparison``; None (and a
    note) when one of the two point runs has no steady stage to compare."""
    baseline = comparison.baseline
    try:
        point = compare_runs([baseline.points[value], sweep.points[value]], stage=stage, slo=slo,
                             labels=[baseline.label, sweep.label])
    except NoSteadyStage as exc:
        comparison.notes.append(f"{baseline.axis} {value:g}: not compared: {exc.message}")
        return None
    compared = PointComparison(value, sweep.label, point.pairs)
    comparison.points.append(compared)
    comparison.notes += [f"{baseline.axis} {value:g}: {note}" for note in point.notes]
    return compared


def load_sweep_results(folder: Path) -> SweepResults:
    """A sweep folder's ``sweep.json`` and the run folders of its points with results."""
    path = folder / SWEEP_JSON
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read {display(path)}: {exc}", hint="pass a sweep folder written by ais_bench") from None
    if not isinstance(document, dict) or document.get("schema") != "ais_bench.sweep" or "axis" not in document:
        raise ConfigError(f"{display(path)} is not an ais_bench sweep.json", hint="pass a sweep folder written by ais_bench")
    points = {
        float(point["value"]): folder / str(point["run_dir"])
        for point in document.get("points", [])
        if isinstance(point, dict) and point.get("status") == "ok"
    }
    return SweepResults(folder.resolve().name or str(folder), folder, document, points)


def _labelled(sweeps: list[SweepResults]) -> list[SweepResults]:
    labels = unique_labels([sweep.label for sweep in sweeps])
    return [SweepResults(label, s.path, s.document, s.points) for label, s in zip(labels, sweeps, strict=True)]


def paired_values(baseline: SweepResults, sweep: SweepResults) -> list[float]:
    """The swept values both sweeps measured with results, ascending."""
    return sorted(set(baseline.points) & set(sweep.points))


def unpaired_point_notes(baseline: SweepResults, sweep: SweepResults) -> list[str]:
    """One note per point not compared: measured by one sweep only, or without results in one."""
    axis = baseline.axis
    statuses_a, statuses_b = _statuses(baseline), _statuses(sweep)
    notes = []
    for value in sorted(set(statuses_a) | set(statuses_b)):
        if value in baseline.points and value in sweep.points:
            continue
        for side, statuses in ((baseline, statuses_a), (sweep, statuses_b)):
            if value not in statuses:
                notes.append(f"{axis} {value:g}: not in {side.label}, not compared")
            elif value not in side.points:
                notes.append(f"{axis} {value:g}: no results in {side.label} ({statuses[value]}), not compared")
    return notes


def _statuses(sweep: SweepResults) -> dict[float, str]:
    return {
        float(point["value"]): str(point.get("status"))
        for point in sweep.document.get("points", [])
        if isinstance(point, dict) and number_or_none(point.get("value")) is not None
    }


def sweep_level(baseline: SweepResults, sweep: SweepResults) -> SweepLevel:
    """The knee and the highest passing load of both sweeps (``SweepLevel``)."""
    level = SweepLevel(sweep.label, baseline.knee, sweep.knee)
    a, b = baseline.document, sweep.document
    if a.get("kind") == "slo_search" and b.get("kind") == "slo_search":
        return SweepLevel(level.run, level.knee_a, level.knee_b, number_or_none(a.get("max_passing")),
                          number_or_none(b.get("max_passing")), "slo_search",
                          number_or_none(a.get("slo_attainment_target")))
    if a.get("slo_ms") and b.get("slo_ms"):
        passing_a, passing_b = highest_passing(a, DEFAULT_TARGET), highest_passing(b, DEFAULT_TARGET)
        return SweepLevel(level.run, level.knee_a, level.knee_b, passing_a, passing_b, "points", DEFAULT_TARGET,
                          passing_a is not None and passing_a == max(baseline.points, default=None),
                          passing_b is not None and passing_b == max(sweep.points, default=None))
    return level


def highest_passing(document: dict[str, Any], target: float) -> float | None:
    """The highest swept value of a sweep's points with results whose SLO attainment reached ``target``."""
    passing = [
        float(point["value"])
        for point in document.get("points", [])
        if isinstance(point, dict) and point.get("status") == "ok"
        and (number_or_none(point.get("attainment")) or 0.0) >= target
    ]
    return max(passing, default=None)


def find_point_violations(comparison: SweepComparison, rules: Sequence[FailIf]) -> list[PointViolation]:
    """Every (rule, point, dataset, sweep) where a compared point breaks a ``--fail-if`` rule."""
    return [
        PointViolation(comparison.axis, point.value, violation)
        for point in comparison.points
        for violation in pair_violations(point.pairs, rules)
    ]


def unmatched_sweep_rules(comparison: SweepComparison, rules: Sequence[FailIf]) -> list[FailIf]:
    """Rules that no compared row of any point has: never violated."""
    keys = {row.key for point in comparison.points for pair in point.pairs for row in pair.rows}
    return [rule for rule in rules if rule.key not in keys]


def _values_text(points: dict[float, Path]) -> str:
    return ", ".join(f"{value:g}" for value in sorted(points)) or "none"

"""Compare runs: find the results of each folder given, pair the datasets with the baseline's, and
compare every pair with ``metrics.comparison`` (what ``ais_bench compare`` prints and writes).

A folder given is a run folder (``<work_dir>/<timestamp>``, or the ``latest`` link to one), one of
its ``performances/<model_abbr>`` folders, or a work dir (its ``latest`` run). A dataset of a run is
comparable when its ``<ds>_details.h5`` exists (written when a run ends and by every recalculation):
the per-request values come from it, read back and computed exactly as a recalculation does.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ais_bench.api.workdir import display, latest_run_dir
from ais_bench.config.fail_if import FailIf
from ais_bench.config.slo import slo_bounds
from ais_bench.errors import ConfigError, NoSteadyStage
from ais_bench.metrics.comparison import (
    DatasetComparison,
    StageSample,
    Violation,
    compare_samples,
    sample_stage,
)
from ais_bench.metrics.goodput import SloBound
from ais_bench.metrics.stage import STAGES
from ais_bench.records.details_h5 import read_details_h5, read_h5_attributes
from ais_bench.records.store import RECORDS_DIRNAME
from ais_bench.records.table import resolve_token_counts, table_from_columns

_DETAILS_SUFFIX = "_details.h5"


@dataclass(frozen=True)
class RunResults:
    """One folder given on the command line: ``label`` (its run folder's name, made unique),
    ``path`` (the folder as given), and its datasets, ``"<model_abbr>/<data_abbr>"`` -> the
    ``performances/<model_abbr>`` folder holding ``<data_abbr>_details.h5``."""

    label: str
    path: Path
    datasets: dict[str, Path]


@dataclass
class Comparison:
    """Every run against the baseline (``runs[0]``). ``samples``: (run label, dataset key) -> the
    stage's per-request values (the HTML's distributions); ``notes``: datasets only one side has."""

    runs: list[RunResults]
    pairs: list[DatasetComparison] = field(default_factory=list)
    samples: dict[tuple[str, str], StageSample] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def baseline(self) -> RunResults:
        return self.runs[0]


def compare_runs(
    folders: Sequence[str | Path], *, stage: str | None = None, slo: Sequence[SloBound] | None = None,
    labels: Sequence[str] | None = None,
) -> Comparison:
    """Compare every folder after the first with the first. ``stage``: ``total`` or ``stable``;
    None takes, per dataset, the stage of the baseline's ``<ds>_summary.json`` (``total`` without one).
    ``slo``: the bounds both runs' goodput is judged under; None takes, per dataset, the bounds of the
    baseline's summary (its ``--goodput``), no goodput rows without them; ``()``: no goodput rows.
    ``labels``: the runs' labels (unique, one per folder) instead of their run folders' names (a sweep
    comparison labels each point's runs with their sweeps' names).

    Raises ``ConfigError`` (one line) for a folder that holds no results, fewer than two folders,
    or runs with no dataset in common with the baseline.
    """
    if len(folders) < 2:
        raise ConfigError("compare needs at least two run folders", hint="ais_bench compare RUN_A RUN_B")
    if stage is not None and stage not in STAGES:
        raise ConfigError(f"unknown stage {stage!r}", hint=f"use one of {', '.join(STAGES)}")
    runs = [find_run_results(Path(folder)) for folder in folders]
    names = unique_labels([run.label for run in runs]) if labels is None else list(labels)
    runs = [RunResults(name, run.path, run.datasets) for name, run in zip(names, runs, strict=True)]
    comparison = Comparison(runs=runs)
    baseline = runs[0]
    for run in runs[1:]:
        pairs = pair_datasets(baseline, run)
        for key, other in pairs:
            reported = _reported_summary(baseline.datasets[key], key)
            chosen = stage or _reported_stage(reported)
            bounds = tuple(slo) if slo is not None else _reported_slo(reported, baseline.label, key)
            a = _sample(comparison, baseline, key, chosen, bounds)
            b = _sample(comparison, run, other, chosen, bounds)
            comparison.pairs.append(DatasetComparison(key, other, run.label, chosen, compare_samples(a, b)))
        comparison.notes += unpaired_notes(baseline, run, pairs)
    return comparison


def find_run_results(folder: Path) -> RunResults:
    """The datasets with results in ``folder`` (module doc); a one-line ``ConfigError`` when it has none."""
    if not folder.is_dir():
        raise ConfigError(f"{display(folder)} is not a folder", hint=_FOLDER_HINT)
    if (folder / "sweep.json").is_file():
        raise ConfigError(
            f"{display(folder)} is a sweep folder, not a run folder",
            hint="compare it with other sweep folders (ais_bench compare SWEEP_A SWEEP_B), or pass its points' "
            f"run folders, e.g. {display(folder / 'concurrency_4')}",
        )
    run_dir = folder
    if not (folder / "performances").is_dir() and not _details_files(folder):
        linked = latest_run_dir(folder)
        if linked is not None:
            run_dir = linked
    if (run_dir / "performances").is_dir():
        model_dirs = sorted(p for p in (run_dir / "performances").iterdir() if p.is_dir())
        label = run_dir.resolve().name
    else:
        model_dirs = [run_dir]
        label = run_dir.resolve().parent.parent.name or run_dir.name
    datasets = {f"{d.name}/{h5.name.removesuffix(_DETAILS_SUFFIX)}": d for d in model_dirs for h5 in _details_files(d)}
    if not datasets:
        raise ConfigError(f"{display(folder)} holds no run results ({_missing_reason(model_dirs)})", hint=_FOLDER_HINT)
    return RunResults(label=label, path=folder, datasets=datasets)


_FOLDER_HINT = (
    "pass run folders (<work_dir>/<timestamp>, a latest link) or their performances/<model_abbr> folders"
)


def _details_files(folder: Path) -> list[Path]:
    return sorted(folder.glob(f"*{_DETAILS_SUFFIX}"))


def _missing_reason(model_dirs: list[Path]) -> str:
    stopped = [d for d in model_dirs if (d / RECORDS_DIRNAME).is_dir() and any((d / RECORDS_DIRNAME).glob("*.worker*"))]
    if stopped:
        return (
            f"{display(stopped[0])} has records but no *{_DETAILS_SUFFIX}: the run stopped before its results "
            "were written; recalculate it first with --mode perf_viz --reuse"
        )
    return f"no performances/<model_abbr>/<ds>{_DETAILS_SUFFIX}"


def unique_labels(names: Sequence[str]) -> list[str]:
    """``names`` made unique in order (a folder given twice: ``name``, ``name#2``)."""
    seen: dict[str, int] = {}
    labels = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        labels.append(name if seen[name] == 1 else f"{name}#{seen[name]}")
    return labels


def pair_datasets(baseline: RunResults, run: RunResults) -> list[tuple[str, str]]:
    """(baseline key, run key) of the datasets both have: the same ``model/ds``, or, when the two runs
    share none and each has one model (two builds under two abbrs), the same dataset abbr.
    Raises ``ConfigError`` when nothing pairs."""
    pairs = [(key, key) for key in baseline.datasets if key in run.datasets]
    if not pairs and _single_model(baseline) and _single_model(run):
        by_data = {key.split("/", 1)[1]: key for key in run.datasets}
        pairs = [(key, by_data[key.split("/", 1)[1]]) for key in baseline.datasets if key.split("/", 1)[1] in by_data]
    if not pairs:
        raise ConfigError(
            f"the datasets do not match: {run.label} has {', '.join(run.datasets)}, "
            f"the baseline {baseline.label} has {', '.join(baseline.datasets)}",
            hint="compare runs of the same dataset (model/dataset abbrs as in performances/)",
        )
    return pairs


def _single_model(run: RunResults) -> bool:
    return len({key.split("/", 1)[0] for key in run.datasets}) == 1


def unpaired_notes(baseline: RunResults, run: RunResults, pairs: list[tuple[str, str]]) -> list[str]:
    only_a = [key for key in baseline.datasets if key not in {a for a, _ in pairs}]
    only_b = [key for key in run.datasets if key not in {b for _, b in pairs}]
    notes = [f"only in the baseline {baseline.label}, not compared with {run.label}: {key}" for key in only_a]
    return notes + [f"only in {run.label}, not compared: {key}" for key in only_b]


def _reported_summary(perf_dir: Path, key: str) -> dict[str, Any]:
    """The dataset's ``<ds>_summary.json`` (what the run printed); ``{}`` when it has none."""
    path = perf_dir / f"{key.split('/', 1)[1]}_summary.json"
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return document if isinstance(document, dict) else {}


def _reported_stage(summary: dict[str, Any]) -> str:
    stage = summary.get("stage")
    return stage if stage in STAGES else "total"


def _reported_slo(summary: dict[str, Any], label: str, key: str) -> tuple[SloBound, ...]:
    """The SLO bounds the baseline's goodput was computed under (none when it had none)."""
    goodput = summary.get("goodput")
    if not isinstance(goodput, dict) or not isinstance(goodput.get("slo_ms"), dict):
        return ()
    return slo_bounds(goodput["slo_ms"], f"{label}'s {key}_summary.json goodput.slo_ms")


def _sample(comparison: Comparison, run: RunResults, key: str, stage: str, slo: tuple[SloBound, ...]) -> StageSample:
    cached = comparison.samples.get((run.label, key))
    if cached is not None and (cached.stage, cached.slo) == (stage, slo):
        return cached
    h5_path = run.datasets[key] / f"{key.split('/', 1)[1]}{_DETAILS_SUFFIX}"
    sample = load_stage_sample(h5_path, stage, run.label, slo)
    comparison.samples[(run.label, key)] = sample
    return sample


def load_stage_sample(h5_path: Path, stage: str, label: str, slo: Sequence[SloBound] = ()) -> StageSample:
    """A dataset's stage from its details file, computed as a recalculation computes it (token
    counts as the run stored them, ``batch_size`` and ``stream`` as it ran), goodput under ``slo``."""
    attributes = read_h5_attributes(h5_path)
    stream = bool(attributes["stream"])
    columns = read_details_h5(h5_path)
    table = table_from_columns(columns, resolve_token_counts(columns, stream=stream))
    try:
        batch_size = int(attributes["batch_size"])  # type: ignore[call-overload]
        return sample_stage(table, stage=stage, batch_size=batch_size, stream=stream, slo=slo)
    except NoSteadyStage as exc:
        raise NoSteadyStage(
            f"{label}: {display(h5_path)} has no steady stage ({exc.message})",
            hint="compare the whole runs with --stage total",
        ) from None


def find_violations(comparison: Comparison, rules: Sequence[FailIf]) -> list[Violation]:
    """Every (rule, dataset, run) where a compared run breaks a ``--fail-if`` rule."""
    return pair_violations(comparison.pairs, rules)


def pair_violations(pairs: Sequence[DatasetComparison], rules: Sequence[FailIf]) -> list[Violation]:
    """Every (rule, dataset, run) of ``pairs`` whose row breaks a ``--fail-if`` rule."""
    return [
        Violation(rule.text, pair.dataset, pair.run, row)
        for rule in rules
        for pair in pairs
        for row in pair.rows
        if row.key == rule.key and rule.violated(row.a, row.b)
    ]


def unmatched_rules(comparison: Comparison, rules: Sequence[FailIf]) -> list[FailIf]:
    """Rules that no compared row has (e.g. ``ttft`` of runs that did not stream): never violated."""
    keys = {row.key for pair in comparison.pairs for row in pair.rows}
    return [rule for rule in rules if rule.key not in keys]

"""Sweeps and the SLO search through the public API: each point is one ``plan_run`` + ``run`` in its own
run folder under one sweep folder, ``<work_dir>/<YYYYmmdd_HHMMSS>_sweep/<axis>_<value>/``; the sweep
folder's ``sweep.json``, ``sweep.csv`` and ``sweep.html`` are rewritten after every point.

A point that fails (every request failed, no steady stage, the server stopped answering) is a row
with its reason and the sweep goes on; a config problem, an output error or an interrupt ends it
(the rows measured so far stay written).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ais_bench.api.planning import plan_run
from ais_bench.api.running import RunResult, run
from ais_bench.api.simulator import serve_simulator
from ais_bench.api.workdir import create_run_dir, display
from ais_bench.config import DatasetConfig, GlobalConsts, ModelConfig, SummarizerConfig, dump_config
from ais_bench.config.models import MAX_BATCH_SIZE, MAX_REQUEST_RATE
from ais_bench.distributed.target import RayTarget
from ais_bench.errors import (
    AisBenchError,
    AllRequestsFailed,
    ConfigError,
    NoSteadyStage,
    OutputError,
    RunInterrupted,
)
from ais_bench.reports.sweep_report import SweepReport, axis_value, write_sweep_outputs
from ais_bench.server_metrics.scraper import DEFAULT_INTERVAL_S
from ais_bench.sweep.rows import SweepRow, find_knee, row_from_summary, unmeasured_row
from ais_bench.sweep.search import SearchOutcome, SearchPoint, confidence_statement, search_max_passing
from ais_bench.sweep.values import SweepAxis

log = logging.getLogger("ais_bench")

#: ``--slo-search-resolution`` when not given: concurrency 1, request rate 0.25 req/s.
DEFAULT_RESOLUTION = {"concurrency": 1.0, "request_rate": 0.25}
DEFAULT_SLO_ATTAINMENT = 0.99
DEFAULT_SEARCH_MAX_POINTS = 12
_AXIS_MAX = {"concurrency": float(MAX_BATCH_SIZE), "request_rate": float(MAX_REQUEST_RATE)}


@dataclass(frozen=True)
class PointSettings:
    """How every point runs (as ``plan_run``'s keywords, ``server_metrics`` too) and what separates them: ``cool_down_s``
    of idle before each point but the first; ``cli_args``: the flags for each point's config dump."""

    summarizer: SummarizerConfig
    consts: GlobalConsts | None = None
    num_prompts: int | None = None
    num_warmups: int = 1
    pressure_time_s: int | None = None
    debug: bool = False
    dump_text: bool = False
    wide: bool = False
    progress: bool = True
    cool_down_s: float = 0.0
    cli_args: dict[str, Any] = field(default_factory=dict)
    server_metrics: tuple[str, ...] | None = None
    server_metrics_interval_s: float = DEFAULT_INTERVAL_S
    #: ``plan_run``'s ``ray`` and ``ray_workers_per_node``: every point on the Ray cluster (``--ray``).
    ray: RayTarget | str | bool | None = None
    ray_workers_per_node: int | None = None


@dataclass(frozen=True)
class SweepResult:
    """The sweep folder and what its files say."""

    sweep_dir: Path
    report: SweepReport


def new_sweep_dir(work_dir: str | Path) -> Path:
    """``<work_dir>/<YYYYmmdd_HHMMSS>_sweep``, created (writable, free space checked)."""
    return create_run_dir(work_dir, suffix="_sweep")


def run_sweep(
    model: ModelConfig, dataset: DatasetConfig, axis: SweepAxis, values: list[float], *,
    sweep_dir: Path, settings: PointSettings,
) -> SweepResult:
    """Run one point per value of ``axis`` (in the order given) and write the sweep folder's files."""
    with _Points(model, dataset, axis, sweep_dir, settings) as points:
        for index, value in enumerate(values, start=1):
            row = points.measure(value)
            log.info("Sweep point %d/%d: %s", index, len(values), _row_text(axis, row))
        return SweepResult(sweep_dir, points.report())


def run_slo_search(
    model: ModelConfig, dataset: DatasetConfig, axis: SweepAxis, *, sweep_dir: Path, settings: PointSettings,
    target: float = DEFAULT_SLO_ATTAINMENT, resolution: float | None = None, max_points: int = DEFAULT_SEARCH_MAX_POINTS,
) -> SweepResult:
    """Find the highest value of ``axis`` whose SLO attainment is at least ``target``
    (``sweep.search``); the summarizer must carry SLO bounds."""
    if not settings.summarizer.slo:
        raise ConfigError("the SLO search needs SLO bounds", hint="add --goodput, e.g. --goodput ttft:200")
    step = resolution if resolution is not None else DEFAULT_RESOLUTION[axis.name]
    with _Points(model, dataset, axis, sweep_dir, settings, kind="slo_search") as points:

        def measure(value: float) -> SearchPoint:
            row = points.measure(value)
            log.info("Search point %d (at most %d): %s", len(points.rows), max_points, _row_text(axis, row))
            return SearchPoint(value, row.attainment if row.ok else None, row.attainment_ci_low, row.attainment_ci_high)

        outcome = search_max_passing(
            measure, target=target, resolution=step, integer=axis.integer, max_points=max_points,
            max_value=_AXIS_MAX[axis.name],
        )
        points.search = outcome
        points.write()
        report = points.report()
    log.info("SLO search: %s", confidence_statement(outcome, axis.name))
    return SweepResult(sweep_dir, report)


class _Points:
    """Runs the points of one sweep against one server (the embedded simulator started once) and
    keeps the sweep folder's files up to date."""

    def __init__(
        self, model: ModelConfig, dataset: DatasetConfig, axis: SweepAxis, sweep_dir: Path, settings: PointSettings,
        *, kind: str = "sweep",
    ) -> None:
        self.model, self.dataset, self.axis, self.sweep_dir, self.settings = model, dataset, axis, sweep_dir, settings
        self.kind = kind
        self.rows: list[SweepRow] = []
        self.search: SearchOutcome | None = None
        self._server = serve_simulator(model)
        self._target = model

    def __enter__(self) -> _Points:
        self._target = self._server.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.__exit__(None, None, None)

    def report(self) -> SweepReport:
        return SweepReport(
            self.axis, list(self.rows), tuple(self.settings.summarizer.slo), find_knee(self.rows), self.search,
            self.model.abbr, self.dataset.abbr, self.kind,
        )

    def measure(self, value: float) -> SweepRow:
        if self.rows and self.settings.cool_down_s > 0:
            log.info("Cooling down %g s before the next point", self.settings.cool_down_s)
            time.sleep(self.settings.cool_down_s)
        name = f"{self.axis.name}_{axis_value(self.axis, value)}"
        try:
            row = self._run_point(value, self.sweep_dir / name, name)
        except RunInterrupted:
            self.rows.append(unmeasured_row(value, name, "interrupted", "the run was interrupted"))
            self.write()
            raise
        self.rows.append(row)
        self.write()
        return row

    def write(self) -> None:
        write_sweep_outputs(self.sweep_dir, self.report())

    def _run_point(self, value: float, point_dir: Path, name: str) -> SweepRow:
        settings = self.settings
        overrides = {self.axis.name: int(value) if self.axis.integer else value}
        try:
            planned = plan_run(
                self._target, self.dataset, run_dir=point_dir, summarizer=settings.summarizer, consts=settings.consts,
                num_prompts=settings.num_prompts, num_warmups=settings.num_warmups,
                pressure_time_s=settings.pressure_time_s, debug=settings.debug, dump_text=settings.dump_text,
                overrides=overrides, server_metrics=settings.server_metrics,
                server_metrics_interval_s=settings.server_metrics_interval_s, ray=settings.ray,
                ray_workers_per_node=settings.ray_workers_per_node,
            )
            dump_config(point_dir, [planned.model], [planned.dataset], planned.summarizer,
                        {**settings.cli_args, self.axis.name: overrides[self.axis.name]})
            result = run(planned, progress=settings.progress, wide=settings.wide)
        except (ConfigError, OutputError):
            raise
        except AllRequestsFailed as exc:
            return unmeasured_row(value, name, "failed", exc.message)
        except NoSteadyStage as exc:
            return unmeasured_row(value, name, "unsteady", exc.message)
        except AisBenchError as exc:
            return unmeasured_row(value, name, "failed", exc.message)
        return self._row_of(value, name, result)

    def _row_of(self, value: float, name: str, result: RunResult) -> SweepRow:
        if result.interrupted:
            raise RunInterrupted(
                f"sweep interrupted ({result.stop_signal or 'SIGINT'}) at {self.axis.name} {value:g}",
                hint=f"the points measured so far are in {display(self.sweep_dir)}",
                stop_signal=result.stop_signal or "SIGINT",
            )
        if result.summary is None:
            return unmeasured_row(value, name, "failed", "no results")
        return row_from_summary(value, name, result.summary)


def _row_text(axis: SweepAxis, row: SweepRow) -> str:
    """The progress line of one point."""
    head = f"{axis.name} {row.value:g}"
    if not row.ok:
        return f"{head}: {row.status}: {row.reason} ({row.run_dir})"
    parts = [f"{row.request_throughput or 0:.4g} req/s"]
    if row.ttft_p99_ms is not None:
        parts.append(f"TTFT p99 {row.ttft_p99_ms:.4g} ms")
    if row.e2el_p99_ms is not None:
        parts.append(f"E2EL p99 {row.e2el_p99_ms:.4g} ms")
    if row.attainment is not None:
        interval = ""
        if row.attainment_ci_low is not None and row.attainment_ci_high is not None:
            interval = f" [{row.attainment_ci_low:.3f}, {row.attainment_ci_high:.3f}]"
        parts.append(f"SLO attainment {row.attainment:.3f}{interval}")
    return f"{head}: " + ", ".join(parts) + f" ({row.run_dir})"



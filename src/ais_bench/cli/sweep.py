"""``--concurrency 1,2,4`` / ``--request-rate 1:8:x2`` (a sweep) and ``--slo-search AXIS``: the command
line's side; the points run through ``ais_bench.api`` (``api/sweep.py``)."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ais_bench.errors import ConfigError

log = logging.getLogger("ais_bench")


def run_sweep_command(
    args: argparse.Namespace, configs: Any, cli_args: dict[str, Any], *, log_to: Callable[[Path], logging.Handler]
) -> int:
    """Run the sweep or the search of ``args`` and print where its files are; 0 when every point gave
    results, 3 (partial) when some did not. ``log_to``: adds the sweep folder's log file."""
    from ais_bench.api import sweep as api_sweep
    from ais_bench.api.workdir import display
    from ais_bench.reports.sweep_report import SWEEP_HTML, SWEEP_JSON
    from ais_bench.sweep.values import AXES

    model, dataset = _only_model_and_dataset(configs)
    settings = api_sweep.PointSettings(
        summarizer=configs.summarizer, consts=configs.consts, num_prompts=args.num_prompts,
        num_warmups=args.num_warmups, pressure_time_s=_pressure_time(args, configs), debug=args.debug,
        dump_text=args.dump_text, wide=args.wide or args.debug, cool_down_s=args.cool_down or 0.0, cli_args=cli_args,
        server_metrics=None if args.server_metrics is None else tuple(args.server_metrics),
        server_metrics_interval_s=args.server_metrics_interval, ray=args.ray,
        ray_workers_per_node=args.ray_workers_per_node,
    )
    sweep_dir = api_sweep.new_sweep_dir(args.work_dir)
    log_to(sweep_dir / "logs" / "ais_bench.log")
    log.info("Sweep folder: %s", display(sweep_dir))
    if args.slo_search is not None:
        result = api_sweep.run_slo_search(
            model, dataset, AXES[args.slo_search], sweep_dir=sweep_dir, settings=settings,
            target=args.slo_attainment or api_sweep.DEFAULT_SLO_ATTAINMENT, resolution=args.slo_search_resolution,
            max_points=args.slo_search_max_points or api_sweep.DEFAULT_SEARCH_MAX_POINTS,
        )
    else:
        result = api_sweep.run_sweep(
            model, dataset, AXES[args.sweep_axis], args.sweep_values, sweep_dir=sweep_dir, settings=settings
        )
    print(_points_table(result.report))
    if result.report.search is not None:
        from ais_bench.sweep.search import confidence_statement

        print(confidence_statement(result.report.search, args.slo_search))
    log.info("Sweep results: %s, %s", display(sweep_dir / SWEEP_JSON), display(sweep_dir / SWEEP_HTML))
    return 0 if all(row.ok for row in result.report.rows) else 3


def _only_model_and_dataset(configs: Any) -> tuple[Any, Any]:
    if len(configs.models) != 1 or len(configs.datasets) != 1:
        raise ConfigError(
            f"a sweep runs one model and one dataset; {len(configs.models)} models and {len(configs.datasets)} "
            "datasets are selected",
            hint="select one model and one dataset (--models NAME --datasets NAME)",
        )
    return configs.models[0], configs.datasets[0]


def _pressure_time(args: argparse.Namespace, configs: Any) -> int | None:
    if not args.pressure:
        return None
    return int(configs.consts.pressure_time_s or args.pressure_time)


def _points_table(report: Any) -> str:
    from tabulate import tabulate

    headers = [report.axis.name, "status", "req/s", "TTFT p99 ms", "E2EL p99 ms", "goodput req/s", "attainment",
               "folder"]
    rows = [
        [f"{row.value:g}", row.status, _num(row.request_throughput), _num(row.ttft_p99_ms), _num(row.e2el_p99_ms),
         _num(row.goodput_req_s), _num(row.attainment, "{:.3f}"), row.run_dir]
        for row in report.rows
    ]
    knee = f"knee: {report.axis.name} {report.knee:g}" if report.knee is not None else "knee: none found"
    return tabulate(rows, headers=headers, tablefmt="simple") + "\n" + knee


def _num(value: float | None, fmt: str = "{:.4g}") -> str:
    return "" if value is None else fmt.format(value)

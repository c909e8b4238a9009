"""``ais_bench compare RUN_A RUN_B [...]``: is B faster than A, or is it noise? (docs/config.md)

Prints one table per compared dataset (sweep folders: one table per metric family, a line per paired
point), writes ``compare.json`` and ``compare.html`` to ``--output`` (default: the current folder). Exit 0, or ``EXIT_THRESHOLD`` when a ``--fail-if`` rule is broken.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from ais_bench.cli.args import ConfigErrorParser
from ais_bench.config.fail_if import FailIf, parse_fail_if
from ais_bench.config.slo import parse_goodput_flag

if TYPE_CHECKING:
    from ais_bench.api.compare import Comparison
    from ais_bench.metrics.goodput import SloBound

log = logging.getLogger("ais_bench")

#: Exit code when a compared run breaks a ``--fail-if`` rule.
EXIT_THRESHOLD = 4

DESCRIPTION = """\
Compare runs: per dataset and metric, the baseline (the first folder) and each other run, the change
in percent and whether it is beyond noise at 95 % (Mann-Whitney U for means, intervals of the
difference for percentiles and throughputs). Sweep folders are compared point by point (the same
swept value), with their knees and highest passing loads. Writes compare.json and compare.html.

Examples:
  ais_bench compare outputs/default/20261130_101500 outputs/default/latest
  ais_bench compare build_a/performances/vllm-api-stream-chat build_b/performances/vllm-api-stream-chat \\
            --fail-if 'ttft.p99>+10%' --fail-if 'output_token_throughput<-5%' --output compare_out
  ais_bench compare build_a/20261130_101500_sweep build_b/20261130_113000_sweep --fail-if 'tpot.p50>+10%'
"""


def build_compare_parser() -> argparse.ArgumentParser:
    parser = ConfigErrorParser(
        prog="ais_bench compare", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "runs", nargs="+", metavar="RUN",
        help="run folders (<work_dir>/<timestamp> or a latest link) or their performances/<model_abbr> "
        "folders, or sweep folders (with sweep.json: compared point by point); the first is the baseline",
    )
    parser.add_argument(
        "--fail-if", action="append", default=[], metavar="RULE",
        help="exit 4 when a run breaks RULE, e.g. 'ttft.p99>+10%%', 'output_token_throughput<-5%%', "
        "'e2el.p90>+200ms', 'ttft.p99>500ms', 'slo_attainment<0.99' (repeatable)",
    )
    parser.add_argument(
        "--stage", choices=("total", "stable"),
        help="the stage to compare (default: the stage each baseline dataset's summary reports)",
    )
    parser.add_argument(
        "--goodput", nargs="+", metavar="KEY:MS",
        help="judge every run's goodput under these SLO bounds, e.g. --goodput ttft:200 e2el:5000 (default: "
        "the bounds of the baseline's run, when it had --goodput)",
    )
    parser.add_argument(
        "--output", metavar="DIR", default=".", help="folder for compare.json and compare.html (default: .)"
    )
    parser.add_argument("--debug", action="store_true", help="tracebacks shown")
    return parser


def run_compare(argv: list[str]) -> int:
    """The ``compare`` subcommand; ``argv`` without the word ``compare``."""
    from ais_bench.api.compare_sweeps import folders_are_sweeps

    args = build_compare_parser().parse_args(argv)
    rules = [parse_fail_if(text) for text in args.fail_if]
    slo = parse_goodput_flag(args.goodput) if args.goodput else None
    if folders_are_sweeps(args.runs):
        return _compare_sweeps(args, rules, slo)
    return _compare_runs(args, rules, slo)


def _compare_runs(args: argparse.Namespace, rules: list[FailIf], slo: tuple[SloBound, ...] | None) -> int:
    from ais_bench.api.compare import compare_runs, find_violations, unmatched_rules
    from ais_bench.reports.compare_report import (
        comparison_document,
        format_pair,
        format_violation,
        write_comparison_json,
    )

    comparison = compare_runs(args.runs, stage=args.stage, slo=slo)
    baseline = comparison.baseline.label
    for pair in comparison.pairs:
        print(format_pair(pair, baseline) + "\n")
    for note in comparison.notes:
        log.warning(note)
    _warn_unmatched(unmatched_rules(comparison, rules))
    violations = find_violations(comparison, rules)
    out_dir = Path(args.output)
    runs = [(run.label, str(run.path)) for run in comparison.runs]
    document = comparison_document(runs, comparison.pairs, comparison.notes, violations, args.fail_if)
    write_comparison_json(document, out_dir / "compare.json")
    _write_html(comparison, out_dir / "compare.html")
    _written(out_dir)
    for violation in violations:
        log.error(format_violation(violation))
    return EXIT_THRESHOLD if violations else 0


def _compare_sweeps(args: argparse.Namespace, rules: list[FailIf], slo: tuple[SloBound, ...] | None) -> int:
    from ais_bench.api.compare_sweeps import compare_sweeps, find_point_violations, unmatched_sweep_rules
    from ais_bench.reports.compare_report import write_comparison_json
    from ais_bench.reports.compare_sweep_html import write_sweep_compare_html
    from ais_bench.reports.compare_sweep_report import (
        format_point_violation,
        format_sweep_comparison,
        sweep_comparison_document,
    )

    comparison = compare_sweeps(args.runs, stage=args.stage, slo=slo)
    for block in format_sweep_comparison(comparison):
        print(block + "\n")
    for note in comparison.notes:
        log.warning(note)
    _warn_unmatched(unmatched_sweep_rules(comparison, rules))
    violations = find_point_violations(comparison, rules)
    out_dir = Path(args.output)
    write_comparison_json(sweep_comparison_document(comparison, violations, args.fail_if), out_dir / "compare.json")
    write_sweep_compare_html(out_dir / "compare.html", comparison)
    _written(out_dir)
    for violation in violations:
        log.error(format_point_violation(violation))
    return EXIT_THRESHOLD if violations else 0


def _written(out_dir: Path) -> None:
    from ais_bench.api.workdir import display

    print(f"Comparison written to {display(out_dir / 'compare.json')} and compare.html")


def _warn_unmatched(rules: list[FailIf]) -> None:
    for rule in rules:
        log.warning("--fail-if %s was not checked: the compared runs have no %s (e.g. ttft of runs that did not "
                    "stream)", rule.text, rule.key)


def _write_html(comparison: Comparison, path: Path) -> None:
    from ais_bench.reports.compare_html import build_compare_figure, write_compare_html

    datasets = list(dict.fromkeys(pair.dataset for pair in comparison.pairs))
    keys = {(comparison.baseline.label, dataset): dataset for dataset in datasets}
    keys.update({(pair.run, pair.dataset): pair.other for pair in comparison.pairs})
    labels = [run.label for run in comparison.runs]
    figure = build_compare_figure(datasets, labels, comparison.samples, keys)
    write_compare_html(path, figure, comparison.pairs, comparison.baseline.label)

"""``ais_bench compare RUN_A RUN_B [...]``: is B faster than A, or is it noise? (docs/config.md)

Prints one table per compared dataset, writes ``compare.json`` and ``compare.html`` to ``--output``
(default: the current folder). Exit 0, or ``EXIT_THRESHOLD`` when a ``--fail-if`` rule is broken.
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

log = logging.getLogger("ais_bench")

#: Exit code when a compared run breaks a ``--fail-if`` rule.
EXIT_THRESHOLD = 4

DESCRIPTION = """\
Compare runs: per dataset and metric, the baseline (the first folder) and each other run, the change
in percent and whether it is beyond noise at 95 % (Mann-Whitney U for means, intervals of the
difference for percentiles and throughputs). Writes compare.json and compare.html.

Examples:
  ais_bench compare outputs/default/20261130_101500 outputs/default/latest
  ais_bench compare build_a/performances/vllm-api-stream-chat build_b/performances/vllm-api-stream-chat \\
            --fail-if 'ttft.p99>+10%' --fail-if 'output_token_throughput<-5%' --output compare_out
"""


def build_compare_parser() -> argparse.ArgumentParser:
    parser = ConfigErrorParser(
        prog="ais_bench compare", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "runs", nargs="+", metavar="RUN",
        help="run folders (<work_dir>/<timestamp> or a latest link) or their performances/<model_abbr> "
        "folders; the first is the baseline",
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
    from ais_bench.api.compare import compare_runs, find_violations, unmatched_rules
    from ais_bench.api.workdir import display
    from ais_bench.reports.compare_report import (
        comparison_document,
        format_pair,
        format_violation,
        write_comparison_json,
    )

    args = build_compare_parser().parse_args(argv)
    rules = [parse_fail_if(text) for text in args.fail_if]
    slo = parse_goodput_flag(args.goodput) if args.goodput else None
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
    print(f"Comparison written to {display(out_dir / 'compare.json')} and compare.html")
    for violation in violations:
        log.error(format_violation(violation))
    return EXIT_THRESHOLD if violations else 0


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

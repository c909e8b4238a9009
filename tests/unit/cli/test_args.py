"""The command line: groups of ``--help`` and how ``--mode`` follows ``--reuse``."""

from __future__ import annotations

import logging

import pytest

from ais_bench.cli.args import build_parser, parse_args

GROUPS = (
    "what to hit (the server)",
    "how hard (the load)",
    "what to send (the requests)",
    "what to report (results and the run folder)",
)


def test_help_groups_the_flags_by_what_they_decide() -> None:
    text = build_parser().format_help()
    positions = [text.index(f"\n{title}:\n") for title in GROUPS]
    assert positions == sorted(positions)
    target, load, requests, report = (text[p:] for p in positions)
    assert "--models" in target.split("\n\n")[0]
    assert "--pressure-time" in load.split("\n\n")[0]
    assert "--num-prompts" in requests.split("\n\n")[0]
    assert "--summarizer" in report.split("\n\n")[0]


def test_reuse_without_mode_recalculates_without_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="ais_bench"):
        args = parse_args(["--models", "m", "--datasets", "d", "--reuse"])
    assert args.mode == "perf_viz" and args.reuse == "latest"
    assert not caplog.records


def test_reuse_with_mode_perf_switches_to_perf_viz_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="ais_bench"):
        args = parse_args(["--models", "m", "--datasets", "d", "--mode", "perf", "--reuse", "20250101_000000"])
    assert args.mode == "perf_viz"
    assert [r.getMessage() for r in caplog.records] == ["--reuse given with --mode perf: switching to --mode perf_viz"]


def test_no_mode_means_perf() -> None:
    assert parse_args(["--models", "m", "--datasets", "d"]).mode == "perf"

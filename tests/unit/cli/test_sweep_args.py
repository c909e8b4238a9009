"""Sweep flags: a list makes a sweep, one value stays a plain flag; flags without effect are refused."""

from __future__ import annotations

import pytest

from ais_bench.cli.args import parse_args
from ais_bench.errors import ConfigError

BASE = ["--url", "http://127.0.0.1:8000", "--isl", "8", "--osl", "8"]


def test_one_value_is_a_plain_run() -> None:
    args = parse_args([*BASE, "--concurrency", "8", "--request-rate", "2.5"])
    assert (args.concurrency, args.request_rate, args.sweep_axis) == (8, 2.5, None)
    assert isinstance(args.concurrency, int)


def test_a_list_or_range_is_a_sweep() -> None:
    args = parse_args([*BASE, "--concurrency", "1:16:x2", "--request-rate", "4"])
    assert (args.sweep_axis, args.sweep_values, args.concurrency, args.request_rate) == (
        "concurrency", [1, 2, 4, 8, 16], None, 4)
    args = parse_args([*BASE, "--request-rate", "0.5,1,2", "--cool-down", "3"])
    assert (args.sweep_axis, args.sweep_values, args.cool_down) == ("request_rate", [0.5, 1, 2], 3)


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--concurrency", "1,2", "--request-rate", "1,2"], "both lists: a sweep varies one of them"),
        (["--concurrency", "1,2", "--slo-search", "concurrency"], "the search picks its own values"),
        (["--concurrency", "4", "--slo-search", "concurrency"], "the search picks the --concurrency values"),
        (["--slo-attainment", "0.9"], "--slo-attainment has no effect without --slo-search"),
        (["--slo-search-max-points", "5"], "--slo-search-max-points has no effect without --slo-search"),
        (["--slo-search", "concurrency", "--slo-search-resolution", "0.5"], "concurrency is a whole number"),
        (["--cool-down", "5"], "--cool-down has no effect on a single run"),
        (["--concurrency", "1,2", "--reuse"], "cannot be recalculated"),
        (["--concurrency", "1,x"], "'x' is not an integer"),
        (["--slo-search", "concurrency", "--slo-attainment", "1.5"], "expected a share in (0, 1]"),
    ],
)
def test_refused_combinations(flags: list[str], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_args([*BASE, *flags])
    assert message in caught.value.one_line()

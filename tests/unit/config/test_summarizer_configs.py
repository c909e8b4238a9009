from __future__ import annotations

import pytest

from ais_bench.config.resolve import resolve_config_file
from ais_bench.config.summarizers import DEFAULT_STATS, build_summarizer, load_summarizer
from ais_bench.errors import ConfigError


def test_builtins():
    default = load_summarizer(resolve_config_file("summarizers", "default_perf", "/nonexistent").path)
    stable = load_summarizer(resolve_config_file("summarizers", "stable_stage", "/nonexistent").path)
    assert (default.stage, stable.stage) == ("total", "stable")
    assert default.stats_list == stable.stats_list == ("Average", "Min", "Max", "Median", "P75", "P90", "P99")


def test_none_and_non_perf_give_default():
    assert load_summarizer(None).stage == "total"
    example = load_summarizer(resolve_config_file("summarizers", "example", "/nonexistent").path)
    assert example.stage == "total" and example.stats_list == DEFAULT_STATS
    assert build_summarizer({"attr": "performance"}, "s.py").stage == "total"  # no type


def test_stats_list_rules():
    calc = "ais_bench.benchmark.calculators.StablePerfMetricCalculator"
    s = build_summarizer(
        {
            "attr": "performance",
            "type": "x",
            "calculator": {"type": calc, "stats_list": ["P50", "Mode", "P01", "P100", "P99.9"]},
        },
        "s.py",
    )
    assert s.stage == "stable" and s.stats_list == ("P50", "P01", "P99.9")
    assert sum("ignored" in w for w in s.warnings) == 2
    many = [f"P{i}" for i in range(1, 11)]
    s = build_summarizer({"attr": "performance", "type": "x", "calculator": {"stats_list": many}}, "s.py")
    assert len(s.stats_list) == 8 and any("at most 8" in w for w in s.warnings)
    s = build_summarizer({"attr": "performance", "type": "x", "calculator": {"stats_list": []}}, "s.py")
    assert s.stats_list == ("Average",)


def test_bad_calculator_type():
    with pytest.raises(ConfigError, match=r"summarizer.calculator.type = 'Nope' is not allowed"):
        build_summarizer({"attr": "performance", "type": "x", "calculator": {"type": "Nope"}}, "s.py")


def test_key_variable(write):
    path = write(
        "summarizers/two.py",
        "summarizer = dict(attr='x')\nother = dict(attr='performance', type='t', calculator=dict(type='StablePerfMetricCalculator'))\n",
    )
    assert load_summarizer(path, "other").stage == "stable"
    with pytest.raises(ConfigError, match="no variable 'missing'"):
        load_summarizer(path, "missing")


def test_the_readme_example_summarizer_has_the_tail_percentiles():
    # README "Recalculating results": --summarizer stable_stage_tail
    tail = load_summarizer(resolve_config_file("summarizers", "stable_stage_tail", "/nonexistent").path)
    assert tail.stage == "stable" and not tail.warnings
    assert tail.stats_list == ("Average", "Min", "Median", "P90", "P95", "P99", "P99.9", "Max")

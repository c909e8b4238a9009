"""Summarizer configs: which stage the metrics cover and which statistics are shown.

A perf summarizer file holds ``summarizer = dict(attr="performance", type=DefaultPerfSummarizer,
calculator=dict(type=DefaultPerfMetricCalculator | StablePerfMetricCalculator, stats_list=[...]))``.
As in AISBench, a summarizer that is not a perf one (no ``type`` or ``attr`` other than
"performance") is silently replaced by the default perf summarizer. Beyond AISBench, a summarizer
may hold ``slo=dict(ttft=200, tpot=50, e2el=5000)`` (ms, any subset): the bounds of goodput
(``config/slo.py``, ``metrics/goodput.py``); ``--goodput`` replaces them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ais_bench.config.loader import load_config_file
from ais_bench.config.resolve import DEFAULT_SUMMARIZER_KEY
from ais_bench.config.slo import slo_bounds, slo_dict
from ais_bench.config.validation import (
    check_dict,
    check_known_keys,
    display_path,
    dotted_name,
    not_allowed,
    show,
)
from ais_bench.errors import ConfigError
from ais_bench.metrics.goodput import SloBound
from ais_bench.metrics.stats import DEFAULT_STATS, MAX_STATS, is_statistic

_STAGES = {"DefaultPerfMetricCalculator": "total", "StablePerfMetricCalculator": "stable"}
_CALCULATOR_FIELDS = ("type", "stats_list")


@dataclass(frozen=True)
class SummarizerConfig:
    """``stage``: "total" (every request) or "stable" (steady stage only); ``stats_list``: statistic
    names in display order (Average, Min, Max, Median, Pk for 0 < k < 100 such as P99.9; at most 8); ``warnings``: text for the
    CLI (replaced summarizer, dropped or unknown statistics); ``slo``: the goodput bounds (none: no
    goodput)."""

    stage: str = "total"
    stats_list: tuple[str, ...] = DEFAULT_STATS
    source: str = ""
    warnings: tuple[str, ...] = ()
    slo: tuple[SloBound, ...] = ()

    def to_dump_dict(self) -> dict[str, Any]:
        calculator = {"total": "DefaultPerfMetricCalculator", "stable": "StablePerfMetricCalculator"}
        slo = {"slo": slo_dict(self.slo)} if self.slo else {}
        return {
            "attr": "performance",
            "type": "ais_bench.benchmark.summarizers.DefaultPerfSummarizer",
            "calculator": {
                "type": f"ais_bench.benchmark.calculators.{calculator[self.stage]}",
                "stats_list": list(self.stats_list),
            },
            **slo,
        }


def load_summarizer(path: str | Path | None, key: str = DEFAULT_SUMMARIZER_KEY) -> SummarizerConfig:
    """Load variable ``key`` of a summarizer file; ``path=None`` gives the default perf summarizer."""
    if path is None:
        return SummarizerConfig()
    source = display_path(path)
    namespace = load_config_file(path)
    if key not in namespace:
        names = ", ".join(sorted(namespace)) or "none"
        raise ConfigError(f"{source}: no variable '{key}' in this file (variables: {names})")
    return build_summarizer(namespace[key], source)


def _class_name(value: Any) -> str:
    name = value if isinstance(value, str) else dotted_name(value)
    return name.rsplit(".", 1)[-1]


def build_summarizer(value: Any, source: str) -> SummarizerConfig:
    """Validate an already-loaded summarizer dict."""
    d = check_dict(source, "summarizer", value)
    slo = _slo_of(d, source)
    if d.get("attr") != "performance" or "type" not in d:
        return SummarizerConfig(source=source, slo=slo)  # silently replaced, as AISBench does in perf modes
    calculator = d.get("calculator")
    if calculator is None:
        return SummarizerConfig(source=source, slo=slo)
    calculator = check_dict(source, "summarizer.calculator", calculator)
    check_known_keys(source, "summarizer.calculator", calculator, _CALCULATOR_FIELDS)
    calc_type = calculator.get("type", "DefaultPerfMetricCalculator")
    stage = _STAGES.get(_class_name(calc_type))
    if stage is None:
        raise not_allowed(source, "summarizer.calculator.type", calc_type, "one of " + ", ".join(_STAGES))
    stats, warnings = normalise_stats(calculator.get("stats_list", DEFAULT_STATS), source)
    return SummarizerConfig(stage=stage, stats_list=stats, source=source, warnings=tuple(warnings), slo=slo)


def _slo_of(d: dict[str, Any], source: str) -> tuple[SloBound, ...]:
    """The ``slo`` dict of a summarizer, checked (none when absent)."""
    if d.get("slo") is None:
        return ()
    return slo_bounds(check_dict(source, "summarizer.slo", d["slo"]), f"{source}: summarizer.slo")


def normalise_stats(stats: Any, source: str) -> tuple[tuple[str, ...], list[str]]:
    """AISBench rules: unknown names ignored, more than 8 dropped (warning), empty -> ("Average",)."""
    if not isinstance(stats, (list, tuple)):
        raise not_allowed(source, "summarizer.calculator.stats_list", stats, "a list of statistic names")
    warnings: list[str] = []
    kept: list[str] = []
    for name in stats:
        if name in kept:
            warnings.append(f"{source}: statistic {show(name)} listed twice; shown once")
        elif is_statistic(name):
            kept.append(name)
        else:
            warnings.append(
                f"{source}: unknown statistic {show(name)} ignored (allowed: Average, Min, Max, Median, Pk for 0 < k < 100, e.g. P95 or P99.9)"
            )
    if len(kept) > MAX_STATS:
        warnings.append(f"{source}: at most {MAX_STATS} statistics; dropped {', '.join(kept[MAX_STATS:])}")
        kept = kept[:MAX_STATS]
    return tuple(kept) or ("Average",), warnings

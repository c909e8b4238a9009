"""SLO bounds for goodput: ``--goodput ttft:200 tpot:50 e2el:5000`` and the summarizer's
``slo=dict(ttft=200, tpot=50, e2el=5000)`` (limits in ms, any subset; ``metrics.goodput``).

vLLM's syntax: ``KEY:VALUE`` pairs, keys ``ttft``, ``tpot``, ``e2el``, values numbers of ms >= 0.
Differences: a key given twice is refused (vLLM keeps the last), and so is a value that is not finite.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from ais_bench.config.validation import show
from ais_bench.errors import ConfigError
from ais_bench.metrics.goodput import SLO_METRICS, SloBound

_KEYS = ", ".join(SLO_METRICS)
_FLAG_HINT = (
    "write --goodput KEY:MS ... with KEY one of ttft, tpot, e2el, e.g. --goodput ttft:200 tpot:50 "
    "(a config file goes before --goodput)"
)


def parse_goodput_flag(pairs: Iterable[str]) -> tuple[SloBound, ...]:
    """The bounds of ``--goodput``'s ``KEY:VALUE`` words; one ``ConfigError`` line when one is wrong."""
    limits: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition(":")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"--goodput {pair!r} is not KEY:VALUE", hint=_FLAG_HINT)
        if key in limits:
            raise ConfigError(f"--goodput gives {key} twice", hint="give each metric once")
        try:
            limits[key] = float(value)
        except ValueError:
            raise ConfigError(f"--goodput {pair!r}: {value!r} is not a number of ms", hint=_FLAG_HINT) from None
    return slo_bounds(limits, "--goodput")


def slo_bounds(limits: Mapping[Any, Any], where: str) -> tuple[SloBound, ...]:
    """``{metric: limit_ms}`` checked into bounds, in ``SLO_METRICS`` order; ``where`` names the source."""
    for key, value in limits.items():
        if key not in SLO_METRICS:
            raise ConfigError(
                f"{where}: unknown SLO metric {show(key)}",
                hint=f"use {_KEYS} (itl is not a per-request value: bound tpot, the mean gap of a request)",
            )
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
            raise ConfigError(
                f"{where}: {key} = {show(value)} is not allowed: expected a number of ms >= 0",
                hint=f"e.g. {key}:200",
            )
    return tuple(SloBound(metric, float(limits[metric])) for metric in SLO_METRICS if metric in limits)


def slo_dict(bounds: Iterable[SloBound]) -> dict[str, float]:
    """``{metric: limit_ms}`` of ``bounds`` (the summarizer's ``slo`` as a config dump writes it)."""
    return {bound.metric: bound.limit_ms for bound in bounds}

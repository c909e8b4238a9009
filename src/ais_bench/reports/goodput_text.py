"""Goodput as the writers show it: the console block under the tables, the json entry, the HTML rows."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from ais_bench.metrics.goodput import Goodput
from ais_bench.metrics.stage import Interval
from ais_bench.reports.cells import AISBENCH_DECIMALS


def slo_text(goodput: Goodput) -> str:
    """``ttft <= 200 ms, e2el <= 5000 ms``."""
    return ", ".join(f"{b.metric} <= {b.limit_ms:g} ms" for b in goodput.bounds)


def goodput_value_text(goodput: Goodput) -> str:
    """``3.2 req/s`` (4 decimals, as the tables), with its 95 % interval when there is one."""
    text = f"{round(goodput.goodput, AISBENCH_DECIMALS):g} req/s"
    interval = goodput.goodput_interval
    if interval is not None:
        low, high = round(interval.low, AISBENCH_DECIMALS), round(interval.high, AISBENCH_DECIMALS)
        text += f" (95% CI {low:g} to {high:g}, {interval.method})"
    return text


def attainment_text(goodput: Goodput) -> str:
    """``160 of 200 requests (80.0%, 95% CI 73.9% to 85.0%, Wilson)``."""
    text = f"{goodput.good_requests} of {goodput.requests} requests ({goodput.attainment:.1%}"
    interval = goodput.attainment_interval
    if interval is not None:
        text += f", 95% CI {interval.low:.1%} to {interval.high:.1%}, Wilson"
    return text + ")"


def not_good_text(goodput: Goodput) -> str:
    """``10 failed; over ttft 200 ms: 30, over e2el 5000 ms: 5; most missed: ttft``."""
    parts = [f"{goodput.failed_requests} failed"]
    parts.append(", ".join(f"over {m.metric} {m.limit_ms:g} ms: {m.missed}" for m in goodput.misses))
    worst = goodput.most_missed
    parts.append(f"most missed: {worst.metric}" if worst is not None else "no bound missed")
    return "; ".join(parts)


def goodput_lines(goodput: Goodput) -> list[str]:
    """The console block (three lines)."""
    return [
        f"Goodput ({goodput.stage} stage, SLO {slo_text(goodput)}): {goodput_value_text(goodput)}",
        f"SLO attainment: {attainment_text(goodput)} met every bound",
        f"Not good: {not_good_text(goodput)}",
    ]


def goodput_json(goodput: Goodput) -> dict[str, Any]:
    """``<ds>.json``'s ``_ais_bench.goodput``: full precision numbers (req/s, shares 0..1, ms, s)."""
    return goodput_mapping(goodput, _interval_json, duration=("duration_s", goodput.duration_s))


def goodput_mapping(
    goodput: Goodput, interval: Callable[[Interval | None], dict[str, Any] | None], *, duration: tuple[str, float]
) -> dict[str, Any]:
    """The goodput entry of both json files, which differ only in how ``interval`` writes the 95 %
    intervals and in the (key, value) of the stage's ``duration``."""
    worst = goodput.most_missed
    duration_key, duration_value = duration
    return {
        "stage": goodput.stage,
        "slo_ms": {b.metric: b.limit_ms for b in goodput.bounds},
        "goodput_req_s": goodput.goodput,
        "goodput_ci": interval(goodput.goodput_interval),
        duration_key: duration_value,
        "requests": goodput.requests,
        "good_requests": goodput.good_requests,
        "failed_requests": goodput.failed_requests,
        "attainment": goodput.attainment,
        "attainment_ci": interval(goodput.attainment_interval),
        "missed": {m.metric: m.missed for m in goodput.misses},
        "most_missed": worst.metric if worst is not None else None,
    }


def _interval_json(interval: Interval | None) -> dict[str, Any] | None:
    return dataclasses.asdict(interval) if interval is not None else None
